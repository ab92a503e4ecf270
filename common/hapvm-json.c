#include "hapvm-json.h"

static JsonNode *
member(JsonObject *o, const char *name)
{
    return o ? json_object_get_member(o, name) : NULL;
}

JsonObject *
hapvm_json_object(JsonObject *o, const char *name)
{
    JsonNode *n = member(o, name);
    return n && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
}

JsonArray *
hapvm_json_array(JsonObject *o, const char *name)
{
    JsonNode *n = member(o, name);
    return n && JSON_NODE_HOLDS_ARRAY(n) ? json_node_get_array(n) : NULL;
}

const char *
hapvm_json_string(JsonObject *o, const char *name)
{
    JsonNode *n = member(o, name);
    return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING ? json_node_get_string(n)
                                                                                          : NULL;
}

static gboolean
is_number(JsonNode *n)
{
    GType t = n && JSON_NODE_HOLDS_VALUE(n) ? json_node_get_value_type(n) : G_TYPE_INVALID;
    return t == G_TYPE_INT64 || t == G_TYPE_DOUBLE;
}

gboolean
hapvm_json_is_number(JsonObject *o, const char *name)
{
    return is_number(member(o, name));
}

double
hapvm_json_double(JsonObject *o, const char *name)
{
    JsonNode *n = member(o, name);
    return is_number(n) ? json_node_get_double(n) : 0;
}

gint64
hapvm_json_int(JsonObject *o, const char *name)
{
    JsonNode *n = member(o, name);
    if (!is_number(n))
        return 0;
    return json_node_get_value_type(n) == G_TYPE_INT64 ? json_node_get_int(n) : (gint64)json_node_get_double(n);
}

gboolean
hapvm_json_boolean(JsonObject *o, const char *name)
{
    JsonNode *n = member(o, name);
    return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_BOOLEAN && json_node_get_boolean(n);
}
