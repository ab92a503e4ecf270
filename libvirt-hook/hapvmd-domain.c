#include "hapvmd-domain.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <string.h>

#include "hapvm-error.h"
#include "hapvm-store.h"

void
hapvmd_domain_free(HapvmdDomain *d)
{
    if (!d)
        return;
    g_free(d->name);
    g_free(d->uuid);
    if (d->labels)
        g_hash_table_unref(d->labels);
    g_free(d);
}

gboolean
hapvmd_label_is_valid(const char *name, const char *value)
{
    gsize n = name ? strlen(name) : 0;
    if (n == 0 || n > 64 || !value || strlen(value) > 256 || !g_utf8_validate(value, -1, NULL))
        return FALSE;
    for (const char *c = name; *c; c++)
        if (!g_ascii_isalnum(*c) && *c != '_')
            return FALSE;
    return TRUE;
}

static xmlNode *
child(xmlNode *n, const char *name)
{
    for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && !strcmp((const char *)c->name, name) && !c->ns)
            return c;
    return NULL;
}

static char *
text(xmlNode *n)
{
    if (!n)
        return NULL;
    xmlChar *t = xmlNodeGetContent(n);
    char *s = g_strstrip(g_strdup((const char *)t));
    xmlFree(t);
    return s;
}

static char *
attr(xmlNode *n, const char *name)
{
    xmlChar *v = n ? xmlGetNoNsProp(n, (const xmlChar *)name) : NULL;
    char *s = v ? g_strdup((const char *)v) : NULL;
    xmlFree(v);
    return s;
}

static void
read_metadata(HapvmdDomain *d, xmlNode *metadata)
{
    for (xmlNode *top = metadata ? metadata->children : NULL; top; top = top->next) {
        if (top->type != XML_ELEMENT_NODE || !top->ns || g_strcmp0((const char *)top->ns->href, HAPVM_XMLNS))
            continue;
        for (xmlNode *c = top->children; c; c = c->next) {
            if (c->type != XML_ELEMENT_NODE)
                continue;
            g_autofree char *a = NULL, *b = NULL;
            if (!strcmp((const char *)c->name, "measure")) {
                a = attr(c, "enabled");
                if (!g_strcmp0(a, "yes"))
                    d->measure = HAPVMD_MEASURE_YES;
                else if (!g_strcmp0(a, "no"))
                    d->measure = HAPVMD_MEASURE_NO;
            } else if (!strcmp((const char *)c->name, "label")) {
                a = attr(c, "name");
                b = attr(c, "value");
                if (hapvmd_label_is_valid(a, b))
                    g_hash_table_replace(d->labels, g_steal_pointer(&a), g_steal_pointer(&b));
                else
                    g_message("domain %s: ignoring invalid hapvm label '%s'", d->name ? d->name : "?",
                              a ? a : "(no name)");
            }
        }
    }
}

HapvmdDomain *
hapvmd_domain_parse(const char *xml, gsize len, GError **error)
{
    if (len > G_MAXINT) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "domain XML too large");
        return NULL;
    }
    xmlDoc *doc = xmlReadMemory(xml, (int)len, "domain.xml", NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    xmlNode *dom = root;
    g_autoptr(HapvmdDomain) d = g_new0(HapvmdDomain, 1);

    d->labels = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    if (root && !strcmp((const char *)root->name, "domstatus")) {
        g_autofree char *state = attr(root, "state"), *pid = attr(root, "pid");
        d->running = !g_strcmp0(state, "running") || !g_strcmp0(state, "paused");
        d->qemu_pid = pid ? (guint32)g_ascii_strtoull(pid, NULL, 10) : 0;
        dom = child(root, "domain");
    }
    if (!dom || strcmp((const char *)dom->name, "domain") != 0) {
        if (doc)
            xmlFreeDoc(doc);
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "not a libvirt domain XML");
        return NULL;
    }
    d->name = text(child(dom, "name"));
    d->uuid = text(child(dom, "uuid"));
    if (d->uuid && !hapvm_uuid_is_valid(d->uuid))
        g_clear_pointer(&d->uuid, g_free);
    read_metadata(d, child(dom, "metadata"));
    xmlFreeDoc(doc);
    return g_steal_pointer(&d);
}

HapvmdDomain *
hapvmd_domain_load(const char *path, GError **error)
{
    g_autofree char *xml = NULL;
    gsize len;

    if (!g_file_get_contents(path, &xml, &len, error))
        return NULL;
    g_autoptr(GError) e = NULL;
    HapvmdDomain *d = hapvmd_domain_parse(xml, len, &e);
    if (!d)
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_PARSE, "%s: %s", path, e->message);
    return d;
}
