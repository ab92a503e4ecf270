/* Fleet analysis: many stored results (docs/result-schema.md, with the
 * hapvmd `collector` section) ranked, grouped by label, with spreads,
 * unions of HAP-F functions and outliers (docs/hapvm-fleet.md).
 *
 * Results are large (0.3-0.9 MB, mostly the `functions` array), so the
 * default reader is a purpose-built scanner over each file that extracts
 * only what fleet needs; a json-glib reader gives the same record and is
 * the reference the tests compare it with. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdio.h>

#define HAPVM_FLEET_SCHEMA "hapvm-fleet"
#define HAPVM_FLEET_VERSION 1

typedef enum {
    HAPVM_FLEET_READER_FAST,      /* scanner over the file's bytes */
    HAPVM_FLEET_READER_REFERENCE, /* json-glib full parse */
} HapvmFleetReader;

typedef enum {
    HAPVM_FLEET_RANK_AUTO,  /* HAP when every ranked result has HAP-L, else HAP-F */
    HAPVM_FLEET_RANK_HAP,
    HAPVM_FLEET_RANK_HAP_F,
} HapvmFleetRankBy;

typedef enum {
    HAPVM_FLEET_FLAG_LOSS = 1 << 0,        /* loss.complete false */
    HAPVM_FLEET_FLAG_PARTIAL = 1 << 1,     /* collector.partial true */
    HAPVM_FLEET_FLAG_OTHER_BUILD = 1 << 2, /* kernel.build_id not the reference */
} HapvmFleetFlags;

typedef enum {
    HAPVM_FLEET_CLASS_VM,        /* target.kind kvm, xen */
    HAPVM_FLEET_CLASS_CONTAINER, /* process, cgroup, command */
    HAPVM_FLEET_CLASS_OTHER,     /* any other kind */
} HapvmFleetClass;

/* Interned function names: one id per distinct name. */
typedef struct HapvmFleetNames HapvmFleetNames;
HapvmFleetNames *hapvm_fleet_names_new(void);
void hapvm_fleet_names_free(HapvmFleetNames *n);
guint32 hapvm_fleet_names_intern(HapvmFleetNames *n, const char *s, gsize len);
const char *hapvm_fleet_names_get(const HapvmFleetNames *n, guint32 id);
guint hapvm_fleet_names_count(const HapvmFleetNames *n);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HapvmFleetNames, hapvm_fleet_names_free)

/* What fleet keeps of one result file. */
typedef struct {
    char *path;
    char *uuid;          /* collector.uuid, else the file's directory name */
    gboolean has_collector;
    char *host, *domain; /* collector.host/.domain; NULL if absent */
    char *kind, *target; /* target.kind, target.name */
    char *release, *build_id; /* kernel.*; build_id NULL if absent or null */
    char *started;       /* timing.started; NULL if absent */
    double hap_f;
    gboolean has_hap_l;  /* scores.hap_l and .hap not null */
    double hap_l, hap;
    gboolean loss_complete;
    gboolean partial;    /* collector.partial */
    char **label_names, **label_values; /* collector.labels, in file order */
    guint n_labels;
    guint32 *functions;  /* ids (in the names table used) of hap_f functions, file order */
    guint n_functions;
    /* Set by the analysis. */
    guint flags;         /* HapvmFleetFlags */
    HapvmFleetClass klass;
    int outlier;         /* +1 above the group's upper fence, -1 below the lower */
    guint group;         /* index into the fleet's groups */
    guint rank;          /* 1-based; 0 = not ranked */
    gboolean superseded; /* --latest: a newer result of the same uuid exists */
} HapvmFleetResult;

void hapvm_fleet_result_free(HapvmFleetResult *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HapvmFleetResult, hapvm_fleet_result_free)
/* The label's value, NULL if the result has no such label. */
const char *hapvm_fleet_result_get_label(const HapvmFleetResult *r, const char *name);

/* Read one result file with either reader, interning function names in
 * `names`.  Errors are HAPVM_ERROR_PARSE (or a GFileError), with a reason. */
HapvmFleetResult *hapvm_fleet_read_file(const char *path, HapvmFleetReader reader,
                                        HapvmFleetNames *names, GError **error);
/* The same from bytes in memory (the fast reader only; `path` names them). */
HapvmFleetResult *hapvm_fleet_read_bytes(const char *data, gsize len, const char *path,
                                         HapvmFleetNames *names, GError **error);

/* Test and benchmark hooks: the layout fast path for functions[] elements
 * (on by default; off = every element through the general walk), and how
 * many elements each path read in the calling thread so far. */
void hapvm_fleet_set_layout_fast_path(gboolean on);
void hapvm_fleet_get_layout_counts(guint64 *fast, guint64 *general);

typedef struct {
    char **group_by;          /* label names or result members (collector.host, ...) */
    gboolean latest;
    gboolean include_incomplete;
    HapvmFleetRankBy rank_by;
    const char *build_id;     /* the reference build-id; NULL: the most common */
    HapvmFleetReader reader;
    guint threads;            /* 0: the number of CPUs, at most 8 */
} HapvmFleetOptions;

typedef struct {
    double min, q1, median, q3, max, mean, sd;
    guint n;
} HapvmFleetStats;

typedef struct {
    char *key;                /* "image=debian-12,flavour=(none)", or "(all)" */
    char **values;            /* one per group-by key; NULL = "(none)" */
    guint n, n_lines;         /* results; of which with HAP-L */
    HapvmFleetStats hap_f, hap_l, hap;
    guint union_f;            /* distinct HAP-F functions over the group */
    guint n_outliers;
} HapvmFleetGroup;

typedef struct {
    char *path, *reason;
} HapvmFleetMalformed;

typedef struct HapvmFleet HapvmFleet;

HapvmFleet *hapvm_fleet_new(const HapvmFleetOptions *opt);
void hapvm_fleet_free(HapvmFleet *f);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HapvmFleet, hapvm_fleet_free)

/* Check a --group-by key: a label name ([A-Za-z0-9_]{1,64}) or one of
 * collector.host, collector.domain, collector.driver... (docs/hapvm-fleet.md). */
gboolean hapvm_fleet_check_group_key(const char *key, GError **error);

/* A result file, or a directory walked recursively for *.json. */
gboolean hapvm_fleet_add_path(HapvmFleet *f, const char *path, GError **error);
guint hapvm_fleet_get_n_files(HapvmFleet *f);
/* Read every file (thread pool), then rank and group. */
void hapvm_fleet_run(HapvmFleet *f);

/* Accessors for the analysis (tests, output). */
GPtrArray *hapvm_fleet_get_results(HapvmFleet *f);   /* HapvmFleetResult*, sorted by path */
GPtrArray *hapvm_fleet_get_ranking(HapvmFleet *f);   /* ranked results, rank order */
GPtrArray *hapvm_fleet_get_excluded(HapvmFleet *f);  /* flagged, not ranked */
GPtrArray *hapvm_fleet_get_groups(HapvmFleet *f);    /* HapvmFleetGroup*, sorted by key */
/* VMs (0), containers and processes (1), other kinds (2). */
const HapvmFleetGroup *hapvm_fleet_get_class(HapvmFleet *f, HapvmFleetClass c);
GPtrArray *hapvm_fleet_get_malformed(HapvmFleet *f); /* HapvmFleetMalformed* */
gboolean hapvm_fleet_ranked_by_hap(HapvmFleet *f);
const char *hapvm_fleet_get_reference_build_id(HapvmFleet *f);
guint hapvm_fleet_count_flag(HapvmFleet *f, HapvmFleetFlags flag);
guint hapvm_fleet_count_superseded(HapvmFleet *f);
const HapvmFleetNames *hapvm_fleet_get_names(HapvmFleet *f);

/* Outputs (docs/hapvm-fleet.md).  top: rows of the ranking, 0 = all. */
void hapvm_fleet_print_text(HapvmFleet *f, FILE *out, guint top);
void hapvm_fleet_print_csv_ranking(HapvmFleet *f, FILE *out, guint top);
void hapvm_fleet_print_csv_groups(HapvmFleet *f, FILE *out);
JsonNode *hapvm_fleet_to_json(HapvmFleet *f, guint top);
/* Warnings (malformed files, other build-ids) for stderr. */
void hapvm_fleet_print_warnings(HapvmFleet *f, FILE *out);
