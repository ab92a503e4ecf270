/* Reading results' JSON without trusting it: every getter takes a NULL
 * object and a missing or mistyped member, and answers NULL or 0. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

JsonObject *hapvm_json_object(JsonObject *o, const char *member);
JsonArray *hapvm_json_array(JsonObject *o, const char *member);
/* A string member; NULL for null, absent or another type. */
const char *hapvm_json_string(JsonObject *o, const char *member);
/* TRUE if the member is a number (integer or double). */
gboolean hapvm_json_is_number(JsonObject *o, const char *member);
/* A number member as double / as integer (doubles truncated); 0 otherwise. */
double hapvm_json_double(JsonObject *o, const char *member);
gint64 hapvm_json_int(JsonObject *o, const char *member);
/* TRUE only for a boolean member that is true. */
gboolean hapvm_json_boolean(JsonObject *o, const char *member);
