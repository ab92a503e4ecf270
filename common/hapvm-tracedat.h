/* Reader of trace-cmd's trace.dat (file versions 6 and 7, see docs/trace-dat.md).
 *
 * Metadata are parsed from an mmap of the file.  The per-CPU ring-buffer
 * pages of the top instance's flyrecord data are handed to a callback from
 * one buffer per CPU, allocated once per pass: pages are read into it with
 * pread (cheaper than first touches of a mapping, docs/benchmarks.md), or a
 * zstd/zlib chunk is inflated into it.  No allocation per page or event.
 * Every offset and length read from the file is bounds-checked: a malformed
 * file gives HAPVM_ERROR_PARSE with the file offset, never a crash. */
#pragma once

#include <glib.h>
#include <event-parse.h>

typedef struct HapvmTraceDat HapvmTraceDat;

/* Parses all metadata and checks the data ranges. */
HapvmTraceDat *hapvm_trace_dat_open(const char *path, GError **error);
/* The same, giving libtraceevent only the formats of the listed event
 * systems (NULL-terminated; "ftrace" always): a full recording has ~1500
 * formats, whose parsing is most of the open time (~20 ms). */
HapvmTraceDat *hapvm_trace_dat_open_systems(const char *path, const char *const *systems,
                                            GError **error);
void hapvm_trace_dat_free(HapvmTraceDat *td);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HapvmTraceDat, hapvm_trace_dat_free)

guint hapvm_trace_dat_get_version(const HapvmTraceDat *td);           /* 6 or 7 */
const char *hapvm_trace_dat_get_compression(const HapvmTraceDat *td); /* "none", "zstd", "zlib" */
gboolean hapvm_trace_dat_is_big_endian(const HapvmTraceDat *td);
/* The traced kernel's long size, from header_page (the file's own "long"
 * byte is trace-cmd's user space). */
guint hapvm_trace_dat_get_long_size(const HapvmTraceDat *td);
gsize hapvm_trace_dat_get_page_size(const HapvmTraceDat *td);
/* CPU ids are < this (CPUs without data included). */
guint hapvm_trace_dat_get_cpus(const HapvmTraceDat *td);
/* Bytes of ring-buffer data of one CPU (uncompressed) and of all CPUs. */
guint64 hapvm_trace_dat_get_cpu_data_size(const HapvmTraceDat *td, guint cpu);
guint64 hapvm_trace_dat_get_data_size(const HapvmTraceDat *td);
/* Instance whose data is read: "" for the top one. */
const char *hapvm_trace_dat_get_buffer_name(const HapvmTraceDat *td);
/* Trace clock ("local", "global", ...), NULL if not recorded. */
const char *hapvm_trace_dat_get_clock(const HapvmTraceDat *td);

/* header_page + ftrace and event formats; owned by td.  Formats
 * libtraceevent could not parse are skipped and counted. */
struct tep_handle *hapvm_trace_dat_get_tep(HapvmTraceDat *td);
guint hapvm_trace_dat_get_parse_failures(const HapvmTraceDat *td);

/* Saved text, NUL-terminated (len excludes the NUL), owned by td; NULL if
 * the file has none. */
const char *hapvm_trace_dat_get_kallsyms(const HapvmTraceDat *td, gsize *len);
const char *hapvm_trace_dat_get_cmdlines(const HapvmTraceDat *td, gsize *len);
const char *hapvm_trace_dat_get_printk_formats(const HapvmTraceDat *td, gsize *len);
/* per_cpu/cpuN/stats of all CPUs, concatenated (option CPUSTAT). */
const char *hapvm_trace_dat_get_cpustats(const HapvmTraceDat *td, gsize *len);
const char *hapvm_trace_dat_get_uname(const HapvmTraceDat *td);

/* One sub-buffer: size is the page size, or less for a short last page. */
typedef void (*HapvmPageFunc)(gpointer data, const void *page, gsize size, int cpu);

/* Visits every page of every CPU, merged across CPUs in the order of the
 * pages' timestamps (as a live reader would see them).  The page is valid
 * during the call only.  Fails only on corrupt compressed data or a read
 * error (the file shrank). */
gboolean hapvm_trace_dat_foreach_page(HapvmTraceDat *td, HapvmPageFunc func, gpointer data,
                                      GError **error);
