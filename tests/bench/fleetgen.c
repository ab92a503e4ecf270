/* fleetgen: a synthetic fleet of stored results for tests/bench/fleet-bench.
 *
 *   fleetgen OUTDIR N SEED FIXTURE.json...
 *
 * Writes N results as OUTDIR/<uuid>/<UTC timestamp>.json, hapvmd's layout,
 * each made from the text of a real result (the fixtures are hapvm's own
 * pretty-printed output): a `collector` section added (host, domain, uuid,
 * labels image/flavour, some missing; partial for ~2 %), some functions
 * dropped (0-20 %), some added (copies of the pool's functions, part of them
 * renamed to names from a pool of 3,000, so group unions grow), scores
 * rewritten to match, ~1 % with loss, ~1 % of another kernel build, ~0.2 %
 * truncated (malformed).  Sizes follow the fixtures (0.06-1 MB).  Prints the
 * number of files and bytes written.  Deterministic for a SEED. */
#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *head;            /* up to and including the functions' '[' */
    char *tail;            /* from the array's closing ']' */
    GPtrArray *funcs;      /* char*: one element each, its text */
    gboolean lines;        /* scores.hap_l not null */
    double hap_per_line;
} Fixture;

static GRand *rnd;

static gboolean
chance(double p)
{
    return g_rand_double(rnd) < p;
}

static Fixture *
fixture_load(const char *path)
{
    g_autofree char *text = NULL;
    Fixture *fx = g_new0(Fixture, 1);
    char *a, *end, *p;
    g_autoptr(GError) e = NULL;

    if (!g_file_get_contents(path, &text, NULL, &e))
        g_error("%s", e->message);
    a = strstr(text, "\n  \"functions\" : [");
    if (!a)
        g_error("%s: no functions array", path);
    a = strchr(a, '[') + 1;
    end = strstr(a, "\n  ]");
    if (!end)
        g_error("%s: functions array not closed as expected", path);
    fx->head = g_strndup(text, (gsize)(a - text));
    fx->tail = g_strdup(end);
    fx->funcs = g_ptr_array_new();
    for (p = a; (p = strstr(p, "\n    {\n")) && p < end;) {
        char *q = strstr(p, "\n    }");

        g_ptr_array_add(fx->funcs, g_strndup(p, (gsize)(q + 6 - p)));
        p = q + 6;
    }
    fx->lines = strstr(fx->head, "\"hap_l\" : null") == NULL;
    return fx;
}

/* Replace the value after `key` (first occurrence after `from`) up to the
 * next ',' or newline. */
static void
set_value(GString *s, const char *from, const char *key, const char *value)
{
    char *f = strstr(s->str, from), *k, *v, *e;

    if (!f || !(k = strstr(f, key)))
        return;
    v = k + strlen(key);
    e = v + strcspn(v, ",\n");
    {
        gssize pos = v - s->str;

        g_string_erase(s, pos, e - v);
        g_string_insert(s, pos, value);
    }
}

static const char *const images[] = { "debian-12", "debian-11", "ubuntu-24.04", "alpine-3.20", "rhel-9", "windows" };
static const char *const flavours[] = { "m1.small", "m1.medium", "m1.large", "c2.xlarge" };

int
main(int argc, char **argv)
{
    guint n, nfx, nuuid;
    g_autofree Fixture **fx = NULL;
    GPtrArray *pool = g_ptr_array_new();
    guint64 bytes = 0;
    GString *out = g_string_sized_new(1 << 20);

    if (argc < 5) {
        fprintf(stderr, "usage: fleetgen OUTDIR N SEED FIXTURE.json...\n");
        return 2;
    }
    n = (guint)atoi(argv[2]);
    rnd = g_rand_new_with_seed((guint32)atoi(argv[3]));
    nfx = (guint)(argc - 4);
    fx = g_new0(Fixture *, nfx);
    for (guint i = 0; i < nfx; i++) {
        fx[i] = fixture_load(argv[4 + i]);
        for (guint j = 0; j < fx[i]->funcs->len; j++)
            g_ptr_array_add(pool, fx[i]->funcs->pdata[j]);
    }
    nuuid = MAX(n * 3 / 10, 1);  /* ~3.3 results per uuid */
    if (g_mkdir_with_parents(argv[1], 0755) < 0)
        g_error("%s: %s", argv[1], g_strerror(errno));
    for (guint i = 0; i < n; i++) {
        guint u = g_rand_int_range(rnd, 0, (gint32)nuuid);
        /* Mostly the big fixtures; the small one (with loss) rarely. */
        Fixture *f = fx[g_rand_int_range(rnd, 0, (gint32)nfx)];
        g_autofree char *uuid = g_strdup_printf("%08x-%04x-4000-8000-%012x", u * 2654435761u, u & 0xffff, u);
        g_autofree char *dir = g_build_filename(argv[1], uuid, NULL);
        g_autofree char *path = NULL;
        g_autofree char *num = NULL;
        guint hap_f = 0, ts = 1000000 + i * 37 + g_rand_int_range(rnd, 0, 30);
        gboolean first = TRUE;
        double drop = g_rand_double_range(rnd, 0, 0.2);
        guint add = (guint)g_rand_int_range(rnd, 0, 400);
        gsize pos;

        if (strstr(f->head, "\"complete\" : false") && chance(0.7))
            f = fx[0];
        g_string_assign(out, f->head);
        for (guint j = 0; j < f->funcs->len + add; j++) {
            const char *fn;

            if (j < f->funcs->len) {
                if (chance(drop))
                    continue;
                fn = f->funcs->pdata[j];
            } else {
                fn = pool->pdata[g_rand_int_range(rnd, 0, (gint32)pool->len)];
            }
            if (!first)
                g_string_append_c(out, ',');
            first = FALSE;
            pos = out->len;
            g_string_append(out, fn);
            if (j >= f->funcs->len && chance(0.5)) {
                /* A name from the synthetic pool. */
                char *k = strstr(out->str + pos, "\"name\" : \"") + 10;
                char *e = strchr(k, '"');
                g_autofree char *nm = g_strdup_printf("fleetgen_fn_%u", g_rand_int_range(rnd, 0, 3000));

                pos = (gsize)(k - out->str);
                g_string_erase(out, (gssize)pos, e - k);
                g_string_insert(out, (gssize)pos, nm);
            }
            if (strstr(fn, "\"hap_f\" : true"))
                hap_f++;
        }
        g_string_append(out, f->tail);
        num = g_strdup_printf("%u", hap_f);
        set_value(out, "\"scores\"", "\"hap_f\" : ", num);
        if (f->lines) {
            double l = hap_f * g_rand_double_range(rnd, 18, 24);

            g_free(num);
            num = g_strdup_printf("%.0f", l);
            set_value(out, "\"scores\"", "\"hap_l\" : ", num);
            g_free(num);
            num = g_strdup_printf("%.3f", l / 3000.0);
            set_value(out, "\"scores\"", "\"hap\" : ", num);
        }
        {
            g_autofree char *st = g_strdup_printf("\"2026-%02u-%02uT%02u:%02u:%02uZ\"", 1 + ts / 2600000 % 12,
                                                  1 + ts / 86400 % 28, ts / 3600 % 24, ts / 60 % 60, ts % 60);

            set_value(out, "\"timing\"", "\"started\" : ", st);
        }
        if (chance(0.01))
            set_value(out, "\"loss\"", "\"complete\" : ", "false");
        if (chance(0.01))
            set_value(out, "\"kernel\"", "\"build_id\" : ", "\"0123456789abcdef0123456789abcdef01234567\"");
        {
            GString *c = g_string_new("{\n  \"collector\" : {\n");
            gboolean partial = chance(0.02);

            g_string_append_printf(c, "    \"host\" : \"node%02u\",\n", g_rand_int_range(rnd, 0, 50));
            g_string_append_printf(c, "    \"domain\" : \"dom-%u\",\n", u);
            g_string_append_printf(c, "    \"uuid\" : \"%s\",\n    \"driver\" : \"qemu\",\n", uuid);
            g_string_append(c, "    \"labels\" : {");
            if (!chance(0.05))
                g_string_append_printf(c, "\n      \"image\" : \"%s\"", images[u % G_N_ELEMENTS(images)]);
            if (!chance(0.1))
                g_string_append_printf(c, "%s\n      \"flavour\" : \"%s\"", c->str[c->len - 1] == '{' ? "" : ",",
                                       flavours[(u / 7) % G_N_ELEMENTS(flavours)]);
            g_string_append_printf(c, "\n    },\n    \"trigger\" : \"started\",\n    \"partial\" : %s,\n",
                                   partial ? "true" : "false");
            g_string_append_printf(c, "    \"partial_reason\" : %s,\n    \"hapvmd_version\" : \"0.1.0\"\n  },",
                                   partial ? "\"domain stopped after 12.3 s, before steady state\"" : "null");
            g_string_erase(out, 0, 1);
            g_string_prepend(out, c->str);
            g_string_free(c, TRUE);
        }
        if (chance(0.002))
            g_string_truncate(out, out->len / 2);
        g_mkdir_with_parents(dir, 0755);
        path = g_strdup_printf("%s/2026%02u%02uT%02u%02u%02uZ.json", dir, 1 + ts / 2600000 % 12,
                               1 + ts / 86400 % 28, ts / 3600 % 24, ts / 60 % 60, ts % 60);
        {
            g_autoptr(GError) e = NULL;

            if (!g_file_set_contents(path, out->str, (gssize)out->len, &e))
                g_error("%s", e->message);
        }
        bytes += out->len;
    }
    printf("%u files, %.2f GB, %.0f KB mean\n", n, bytes / 1e9, n ? bytes / 1e3 / n : 0);
    return 0;
}
