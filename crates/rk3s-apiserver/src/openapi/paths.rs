//! The `paths` of one group-version document: upstream-shaped collection, item, subresource and
//! watch paths with one operation per verb, parameters inline. Entry point: [`paths`].
//!
//! Parameters are inline, not `$ref`s, because kubectl's query-parameter check does not follow
//! references: `apply` looks for an inline `fieldValidation` on the PATCH operation whose
//! `x-kubernetes-group-version-kind` is the object's.

use rk3s_core::{ResourceType, Subresource};
use serde_json::{Map, Value, json};

use super::naming::{capitalize, group_version_ident, tag};
use super::schemas::{Components, DELETE_OPTIONS, Gvk, PATCH, STATUS, WATCH_EVENT, schema_ref};

const OBJECT_TYPES: &[&str] = &[
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
];
const STREAM_TYPES: &[&str] = &[
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
    "application/json;stream=watch",
    "application/vnd.kubernetes.protobuf;stream=watch",
];
const PATCH_TYPES: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
];
/// Subresources that stream or upgrade the connection instead of exchanging objects.
const CONNECT_SUBRESOURCES: &[&str] = &["exec", "attach", "portforward", "proxy"];

/// The paths object of a document describing `types` (one group-version, registry order).
pub(super) fn paths(types: &[&ResourceType], components: &Components) -> Map<String, Value> {
    let mut out = Map::new();
    for t in types {
        Resource::new(t, components).add_paths(&mut out);
    }
    out
}

/// One resource with the names and schema references its operations share.
struct Resource<'a> {
    t: &'a ResourceType,
    components: &'a Components,
    /// `CoreV1`, `AppsV1`.
    ident: String,
    tag: String,
    /// `/api/v1` or `/apis/apps/v1`.
    prefix: String,
    gvk: Gvk,
    kind_schema: Value,
    list_schema: Value,
    /// Only typed kinds accept strategic merge patches.
    strategic_merge: bool,
}

impl<'a> Resource<'a> {
    fn new(t: &'a ResourceType, components: &'a Components) -> Self {
        let prefix = if t.group.is_empty() {
            format!("/api/{}", t.version)
        } else {
            format!("/apis/{}/{}", t.group, t.version)
        };
        let object = || json!({ "type": "object" });
        let kind_schema = components
            .schema_of(&t.group, &t.version, &t.kind)
            .map_or_else(object, schema_ref);
        let list_schema = components
            .schema_of(&t.group, &t.version, &t.list_kind())
            .map_or_else(object, schema_ref);
        Resource {
            t,
            components,
            ident: group_version_ident(&t.group, &t.version),
            tag: tag(&t.group, &t.version),
            prefix,
            gvk: Gvk {
                group: t.group.clone(),
                version: t.version.clone(),
                kind: t.kind.clone(),
            },
            kind_schema,
            list_schema,
            strategic_merge: t.codec.is_some(),
        }
    }

    /// `Namespaced` in operation ids of namespaced resources' namespace-scoped paths.
    fn scope(&self) -> &'static str {
        if self.t.namespaced { "Namespaced" } else { "" }
    }

    fn collection_path(&self) -> String {
        if self.t.namespaced {
            format!("{}/namespaces/{{namespace}}/{}", self.prefix, self.t.plural)
        } else {
            format!("{}/{}", self.prefix, self.t.plural)
        }
    }

    fn scope_params(&self) -> Vec<Value> {
        if self.t.namespaced {
            vec![namespace_param()]
        } else {
            Vec::new()
        }
    }

    fn add_paths(&self, out: &mut Map<String, Value>) {
        let t = self.t;
        let kind = &t.kind;
        let (ident, scope) = (&self.ident, self.scope());

        let mut collection = Map::new();
        if t.has_verb("list") {
            let op = self.operation(
                format!("list{ident}{scope}{kind}"),
                "list",
                format!("list or watch objects of kind {kind}"),
                list_params(),
                None,
                responses(&[("200", &self.list_schema)], STREAM_TYPES),
            );
            collection.insert("get".into(), op);
        }
        if t.has_verb("create") {
            let op = self.operation(
                format!("create{ident}{scope}{kind}"),
                "post",
                format!("create a {kind}"),
                write_params(),
                Some(object_body(&self.kind_schema)),
                responses(
                    &[
                        ("200", &self.kind_schema),
                        ("201", &self.kind_schema),
                        ("202", &self.kind_schema),
                    ],
                    OBJECT_TYPES,
                ),
            );
            collection.insert("post".into(), op);
        }
        if t.has_verb("deletecollection") {
            let mut params = list_params();
            params.extend(delete_params());
            let op = self.operation(
                format!("delete{ident}Collection{scope}{kind}"),
                "deletecollection",
                format!("delete collection of {kind}"),
                params,
                Some(object_body(&schema_ref(DELETE_OPTIONS))),
                responses(&[("200", &schema_ref(STATUS))], OBJECT_TYPES),
            );
            collection.insert("delete".into(), op);
        }
        insert_path(out, self.collection_path(), self.scope_params(), collection);

        let item_path = format!("{}/{{name}}", self.collection_path());
        let mut item_params = vec![name_param(kind)];
        item_params.extend(self.scope_params());
        let mut item = Map::new();
        if t.has_verb("get") {
            let op = self.operation(
                format!("read{ident}{scope}{kind}"),
                "get",
                format!("read the specified {kind}"),
                Vec::new(),
                None,
                responses(&[("200", &self.kind_schema)], OBJECT_TYPES),
            );
            item.insert("get".into(), op);
        }
        if t.has_verb("update") {
            let op = self.operation(
                format!("replace{ident}{scope}{kind}"),
                "put",
                format!("replace the specified {kind}"),
                write_params(),
                Some(object_body(&self.kind_schema)),
                responses(
                    &[("200", &self.kind_schema), ("201", &self.kind_schema)],
                    OBJECT_TYPES,
                ),
            );
            item.insert("put".into(), op);
        }
        if t.has_verb("patch") {
            item.insert(
                "patch".into(),
                self.patch_operation(
                    format!("patch{ident}{scope}{kind}"),
                    kind,
                    &self.gvk,
                    &self.kind_schema,
                ),
            );
        }
        if t.has_verb("delete") {
            let status = schema_ref(STATUS);
            let op = self.operation(
                format!("delete{ident}{scope}{kind}"),
                "delete",
                format!("delete a {kind}"),
                delete_params(),
                Some(object_body(&schema_ref(DELETE_OPTIONS))),
                responses(&[("200", &status), ("202", &status)], OBJECT_TYPES),
            );
            item.insert("delete".into(), op);
        }
        insert_path(out, item_path.clone(), item_params.clone(), item);

        for sub in &t.subresources {
            self.add_subresource(out, &item_path, &item_params, sub);
        }

        if t.namespaced && t.has_verb("list") {
            let mut all = Map::new();
            let op = self.operation(
                format!("list{ident}{kind}ForAllNamespaces"),
                "list",
                format!("list or watch objects of kind {kind} in all namespaces"),
                list_params(),
                None,
                responses(&[("200", &self.list_schema)], STREAM_TYPES),
            );
            all.insert("get".into(), op);
            insert_path(
                out,
                format!("{}/{}", self.prefix, t.plural),
                Vec::new(),
                all,
            );
        }
        if t.has_verb("watch") {
            self.add_watch_paths(out);
        }
    }

    /// The deprecated `/watch/` paths upstream still publishes; clients may use them.
    fn add_watch_paths(&self, out: &mut Map<String, Value>) {
        let t = self.t;
        let (ident, scope, kind) = (&self.ident, self.scope(), &t.kind);
        let event = schema_ref(WATCH_EVENT);
        let watch_op = |op_id: String, action: &str, description: String| {
            self.operation(
                op_id,
                action,
                description,
                list_params(),
                None,
                responses(&[("200", &event)], STREAM_TYPES),
            )
        };
        let collection = if t.namespaced {
            format!(
                "{}/watch/namespaces/{{namespace}}/{}",
                self.prefix, t.plural
            )
        } else {
            format!("{}/watch/{}", self.prefix, t.plural)
        };
        let mut list = Map::new();
        list.insert(
            "get".into(),
            watch_op(
                format!("watch{ident}{scope}{kind}List"),
                "watchlist",
                format!("watch changes to a list of {kind}"),
            ),
        );
        insert_path(out, collection.clone(), self.scope_params(), list);

        let mut one = Map::new();
        one.insert(
            "get".into(),
            watch_op(
                format!("watch{ident}{scope}{kind}"),
                "watch",
                format!("watch changes to an object of kind {kind}"),
            ),
        );
        let mut params = vec![name_param(kind)];
        params.extend(self.scope_params());
        insert_path(out, format!("{collection}/{{name}}"), params, one);

        if t.namespaced {
            let mut all = Map::new();
            all.insert(
                "get".into(),
                watch_op(
                    format!("watch{ident}{kind}ListForAllNamespaces"),
                    "watchlist",
                    format!("watch changes to a list of {kind} in all namespaces"),
                ),
            );
            insert_path(
                out,
                format!("{}/watch/{}", self.prefix, t.plural),
                Vec::new(),
                all,
            );
        }
    }

    fn add_subresource(
        &self,
        out: &mut Map<String, Value>,
        item_path: &str,
        item_params: &[Value],
        sub: &Subresource,
    ) {
        let (ident, scope, kind) = (&self.ident, self.scope(), &self.t.kind);
        let sub_ident = capitalize(&sub.name);
        let gvk = Gvk {
            group: sub.group.clone(),
            version: sub.version.clone(),
            kind: sub.kind.clone(),
        };
        let schema = self
            .components
            .schema_of(&sub.group, &sub.version, &sub.kind)
            .map_or_else(|| json!({ "type": "object" }), schema_ref);
        let has = |verb: &str| sub.verbs.iter().any(|v| v == verb);
        let mut ops = Map::new();

        if CONNECT_SUBRESOURCES.contains(&sub.name.as_str()) {
            let text = json!({ "type": "string" });
            for (verb, method, method_ident) in [("get", "get", "Get"), ("create", "post", "Post")]
            {
                if has(verb) {
                    let op = self.operation_for(
                        &gvk,
                        format!("connect{method_ident}{ident}{scope}{kind}{sub_ident}"),
                        "connect",
                        format!("connect {method_ident} requests to {} of {kind}", sub.name),
                        Vec::new(),
                        None,
                        responses(&[("200", &text)], &["*/*"]),
                    );
                    ops.insert(method.into(), op);
                }
            }
        } else if sub.name == "log" {
            if has("get") {
                let text = json!({ "type": "string" });
                let op = self.operation_for(
                    &gvk,
                    format!("read{ident}{scope}{kind}Log"),
                    "get",
                    format!("read log of the specified {kind}"),
                    Vec::new(),
                    None,
                    responses(
                        &[("200", &text)],
                        &["text/plain", "application/json", "application/yaml"],
                    ),
                );
                ops.insert("get".into(), op);
            }
        } else {
            if has("get") {
                let op = self.operation_for(
                    &gvk,
                    format!("read{ident}{scope}{kind}{sub_ident}"),
                    "get",
                    format!("read {} of the specified {kind}", sub.name),
                    Vec::new(),
                    None,
                    responses(&[("200", &schema)], OBJECT_TYPES),
                );
                ops.insert("get".into(), op);
            }
            if has("create") {
                let op = self.operation_for(
                    &gvk,
                    format!("create{ident}{scope}{kind}{sub_ident}"),
                    "post",
                    format!("create {} of a {kind}", sub.name),
                    write_params(),
                    Some(object_body(&schema)),
                    responses(
                        &[("200", &schema), ("201", &schema), ("202", &schema)],
                        OBJECT_TYPES,
                    ),
                );
                ops.insert("post".into(), op);
            }
            if has("update") {
                let op = self.operation_for(
                    &gvk,
                    format!("replace{ident}{scope}{kind}{sub_ident}"),
                    "put",
                    format!("replace {} of the specified {kind}", sub.name),
                    write_params(),
                    Some(object_body(&schema)),
                    responses(&[("200", &schema), ("201", &schema)], OBJECT_TYPES),
                );
                ops.insert("put".into(), op);
            }
            if has("patch") {
                let op = self.patch_operation(
                    format!("patch{ident}{scope}{kind}{sub_ident}"),
                    &format!("{} of {kind}", sub.name),
                    &gvk,
                    &schema,
                );
                ops.insert("patch".into(), op);
            }
        }
        insert_path(
            out,
            format!("{item_path}/{}", sub.name),
            item_params.to_vec(),
            ops,
        );
    }

    fn patch_operation(&self, op_id: String, what: &str, gvk: &Gvk, schema: &Value) -> Value {
        let patch_types: Vec<&str> = PATCH_TYPES
            .iter()
            .copied()
            .filter(|ct| self.strategic_merge || *ct != "application/strategic-merge-patch+json")
            .collect();
        let mut content = Map::new();
        for ct in patch_types {
            content.insert(ct.into(), json!({ "schema": schema_ref(PATCH) }));
        }
        let mut params = write_params();
        params.push(query_param(
            "force",
            "Take over fields owned by other managers in a conflict. Only valid for apply patches.",
            json!({ "type": "boolean", "uniqueItems": true }),
        ));
        self.operation_for(
            gvk,
            op_id,
            "patch",
            format!("partially update the specified {what}"),
            params,
            Some(json!({ "content": content, "required": true })),
            responses(&[("200", schema), ("201", schema)], OBJECT_TYPES),
        )
    }

    fn operation(
        &self,
        op_id: String,
        action: &str,
        description: String,
        params: Vec<Value>,
        body: Option<Value>,
        responses: Value,
    ) -> Value {
        self.operation_for(
            &self.gvk,
            op_id,
            action,
            description,
            params,
            body,
            responses,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn operation_for(
        &self,
        gvk: &Gvk,
        op_id: String,
        action: &str,
        description: String,
        params: Vec<Value>,
        body: Option<Value>,
        responses: Value,
    ) -> Value {
        let mut op = Map::new();
        op.insert("tags".into(), json!([self.tag]));
        op.insert("description".into(), Value::String(description));
        op.insert("operationId".into(), Value::String(op_id));
        if !params.is_empty() {
            op.insert("parameters".into(), Value::Array(params));
        }
        if let Some(body) = body {
            op.insert("requestBody".into(), body);
        }
        op.insert("responses".into(), responses);
        op.insert("x-kubernetes-action".into(), json!(action));
        op.insert("x-kubernetes-group-version-kind".into(), gvk.to_json());
        Value::Object(op)
    }
}

/// Adds operations to a path, with the path's own parameters, unless it has none (a resource
/// without the verbs of that path).
fn insert_path(
    out: &mut Map<String, Value>,
    path: String,
    mut params: Vec<Value>,
    ops: Map<String, Value>,
) {
    if ops.is_empty() {
        return;
    }
    let mut item = ops;
    params.push(query_param(
        "pretty",
        "If 'true', the output is pretty printed.",
        json!({ "type": "string", "uniqueItems": true }),
    ));
    item.insert("parameters".into(), Value::Array(params));
    out.insert(path, Value::Object(item));
}

fn responses(codes: &[(&str, &Value)], content_types: &[&str]) -> Value {
    let mut out = Map::new();
    for (code, schema) in codes {
        let mut content = Map::new();
        for ct in content_types {
            content.insert((*ct).into(), json!({ "schema": schema }));
        }
        let description = match *code {
            "200" => "OK",
            "201" => "Created",
            "202" => "Accepted",
            _ => "Response",
        };
        out.insert(
            (*code).into(),
            json!({ "description": description, "content": content }),
        );
    }
    out.insert("401".into(), json!({ "description": "Unauthorized" }));
    Value::Object(out)
}

fn object_body(schema: &Value) -> Value {
    json!({ "content": { "*/*": { "schema": schema } }, "required": true })
}

fn query_param(name: &str, description: &str, schema: Value) -> Value {
    json!({ "name": name, "in": "query", "description": description, "schema": schema })
}

fn string_param(name: &str, description: &str) -> Value {
    query_param(
        name,
        description,
        json!({ "type": "string", "uniqueItems": true }),
    )
}

fn bool_param(name: &str, description: &str) -> Value {
    query_param(
        name,
        description,
        json!({ "type": "boolean", "uniqueItems": true }),
    )
}

fn int_param(name: &str, description: &str) -> Value {
    query_param(
        name,
        description,
        json!({ "type": "integer", "uniqueItems": true }),
    )
}

fn name_param(kind: &str) -> Value {
    json!({
        "name": "name",
        "in": "path",
        "description": format!("name of the {kind}"),
        "required": true,
        "schema": { "type": "string", "uniqueItems": true },
    })
}

fn namespace_param() -> Value {
    json!({
        "name": "namespace",
        "in": "path",
        "description": "object name and auth scope, such as for teams and projects",
        "required": true,
        "schema": { "type": "string", "uniqueItems": true },
    })
}

/// Parameters of create, replace and patch.
fn write_params() -> Vec<Value> {
    vec![
        string_param(
            "dryRun",
            "When present, changes are validated but not persisted. The only valid value is All.",
        ),
        string_param(
            "fieldManager",
            "The name of the actor making the change, recorded in managedFields. At most 128 printable characters.",
        ),
        string_param(
            "fieldValidation",
            "How the server treats unknown or duplicate fields in the body: Ignore drops them, Warn drops them and \
             returns a warning header for each, Strict fails the request.",
        ),
    ]
}

fn list_params() -> Vec<Value> {
    vec![
        bool_param(
            "allowWatchBookmarks",
            "Ask for BOOKMARK events on a watch. Servers may ignore it.",
        ),
        string_param(
            "continue",
            "The continue token of a previous paginated list, to fetch the next page.",
        ),
        string_param(
            "fieldSelector",
            "Restrict the returned objects by their fields. Defaults to everything.",
        ),
        string_param(
            "labelSelector",
            "Restrict the returned objects by their labels. Defaults to everything.",
        ),
        int_param(
            "limit",
            "The maximum number of objects to return; the list carries a continue token if more remain.",
        ),
        string_param(
            "resourceVersion",
            "Which version of the data to serve a list from or start a watch at.",
        ),
        string_param(
            "resourceVersionMatch",
            "How resourceVersion applies to a list: Exact or NotOlderThan.",
        ),
        bool_param(
            "sendInitialEvents",
            "Start a watch with synthetic ADDED events for the current state, then a BOOKMARK.",
        ),
        int_param(
            "timeoutSeconds",
            "Close a list or watch call after this many seconds.",
        ),
        bool_param(
            "watch",
            "Watch for changes to the described resources instead of listing them.",
        ),
    ]
}

fn delete_params() -> Vec<Value> {
    vec![
        string_param(
            "dryRun",
            "When present, the deletion is validated but not persisted. The only valid value is All.",
        ),
        int_param(
            "gracePeriodSeconds",
            "Seconds before the object is deleted; zero deletes immediately.",
        ),
        bool_param(
            "ignoreStoreReadErrorWithClusterBreakingPotential",
            "Delete an object whose stored data cannot be read or decoded. Unsafe.",
        ),
        bool_param(
            "orphanDependents",
            "Deprecated: use propagationPolicy. Whether dependents are orphaned.",
        ),
        string_param(
            "propagationPolicy",
            "Garbage collection of dependents: Orphan, Background or Foreground.",
        ),
    ]
}
