/* hapvm status: what hapvmd is measuring now (docs/hapvmd-protocol.md). */
#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>

#include "hapvm-cmds.h"
#include "hapvm-error.h"

#define DEFAULT_SOCKET "/run/hapvm/hapvmd.sock"

int
hapvm_cmd_status(int argc, char **argv, GError **error)
{
    g_autofree char *socket = NULL;
    gboolean json = FALSE;
    GOptionEntry entries[] = {
        { "socket", 's', 0, G_OPTION_ARG_FILENAME, &socket, "hapvmd's socket (default " DEFAULT_SOCKET ")", "PATH" },
        { "json", 0, 0, G_OPTION_ARG_NONE, &json, "print hapvmd's reply as JSON", NULL },
        G_OPTION_ENTRY_NULL
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new(NULL);
    g_option_context_set_summary(ctx, "Show what hapvmd is measuring now.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, error) || argc > 1) {
        if (!*error)
            g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_USAGE, "unexpected argument '%s'", argv[1]);
        (*error)->domain = HAPVM_ERROR;
        (*error)->code = HAPVM_ERROR_USAGE;
        return -1;
    }
    const char *path = socket ? socket : DEFAULT_SOCKET;
    g_autoptr(GSocketClient) cl = g_socket_client_new();
    g_autoptr(GSocketAddress) addr = g_unix_socket_address_new(path);
    g_autoptr(GError) e = NULL;
    g_socket_client_set_timeout(cl, 5);
    g_autoptr(GSocketConnection) conn = g_socket_client_connect(cl, G_SOCKET_CONNECTABLE(addr), NULL, &e);
    if (!conn) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_FAILED, "cannot reach hapvmd at %s: %s (is it running? "
                    "systemctl status hapvmd; only root may connect)", path, e->message);
        return -1;
    }
    const char *req = "{\"v\":1,\"op\":\"status\"}\n";
    GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(conn));
    g_autoptr(GDataInputStream) in = g_data_input_stream_new(g_io_stream_get_input_stream(G_IO_STREAM(conn)));
    if (!g_output_stream_write_all(out, req, strlen(req), NULL, NULL, &e)) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_FAILED, "hapvmd at %s: %s", path, e->message);
        return -1;
    }
    g_autofree char *line = g_data_input_stream_read_line(in, NULL, NULL, &e);
    g_autoptr(JsonParser) p = json_parser_new();
    if (!line || !json_parser_load_from_data(p, line, -1, NULL) ||
        !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(p))) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_FAILED, "hapvmd at %s gave no valid reply%s%s", path,
                    e ? ": " : "", e ? e->message : "");
        return -1;
    }
    JsonObject *r = json_node_get_object(json_parser_get_root(p));
    if (!json_object_get_boolean_member_with_default(r, "ok", FALSE)) {
        g_set_error(error, HAPVM_ERROR, HAPVM_ERROR_FAILED, "hapvmd: %s",
                    json_object_get_string_member_with_default(r, "error", "request refused"));
        return -1;
    }
    if (json) {
        printf("%s\n", line);
        return 0;
    }
    JsonObject *d = json_object_get_object_member(r, "daemon");
    JsonArray *ss = json_object_get_array_member(r, "sessions");
    printf("hapvmd %s, pid %" G_GINT64_FORMAT ", up since %s; results stored %" G_GINT64_FORMAT
           ", failed %" G_GINT64_FORMAT " (in %s)\n",
           json_object_get_string_member_with_default(d, "version", "?"),
           json_object_get_int_member_with_default(d, "pid", 0),
           json_object_get_string_member_with_default(d, "started", "?"),
           json_object_get_int_member_with_default(r, "results", 0),
           json_object_get_int_member_with_default(r, "failed", 0),
           json_object_get_string_member_with_default(d, "results_dir", "?"));
    if (!json_array_get_length(ss)) {
        printf("measuring nothing now\n");
        return 0;
    }
    printf("%-20s %-36s %-10s %9s %9s %9s %6s %9s\n", "DOMAIN", "UUID", "STATE", "ELAPSED", "FUNCTIONS",
           "STEADY", "LOST", "EXITS");
    for (guint i = 0; i < json_array_get_length(ss); i++) {
        JsonObject *s = json_array_get_object_element(ss, i);
        printf("%-20s %-36s %-10s %8.0fs %9" G_GINT64_FORMAT " %9" G_GINT64_FORMAT " %6" G_GINT64_FORMAT
               " %9" G_GINT64_FORMAT "\n",
               json_object_get_string_member_with_default(s, "domain", "?"),
               json_object_get_string_member_with_default(s, "uuid", "?"),
               json_object_get_string_member_with_default(s, "state", "?"),
               json_object_get_double_member_with_default(s, "elapsed_s", 0),
               json_object_get_int_member_with_default(s, "functions", 0),
               json_object_get_int_member_with_default(s, "steady_functions", 0),
               json_object_get_int_member_with_default(s, "lost", 0),
               json_object_get_int_member_with_default(s, "exits", 0));
    }
    return 0;
}
