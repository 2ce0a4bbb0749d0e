// An independent SCIM 2.0 service provider for ferry's interoperability tests.
//
// The protocol side (routing, schema validation and coercion, filters, sorting, paging,
// PATCH, Bulk, error shapes, discovery) is SCIMMY and scimmy-routers, an open-source
// SCIM 2.0 library this project did not write. This file only supplies what SCIMMY leaves
// to the application: in-memory stores for Users and Groups, uniqueness (409) of userName
// and displayName, the enterprise and a custom (acme) User extension, and bearer-token
// authentication, the way an application embedding SCIMMY would.
//
// Usage: node server.js [PORT]      (or PORT=... / SCIM_TOKEN=... in the environment)
// Prints one line "READY <base url>" once it listens on 127.0.0.1; SCIM_TOKEN (default
// "interop-token") is the bearer token it accepts.
import {randomUUID} from "node:crypto";
import express from "express";
import SCIMMY from "scimmy";
import SCIMMYRouters from "scimmy-routers";

const port = Number(process.argv[2] ?? process.env.PORT ?? 0);
const token = process.env.SCIM_TOKEN || "interop-token";

const lower = (s) => String(s ?? "").toLowerCase();

// The custom User extension both interop servers declare (the Go one in interop/elimity),
// declared the SCIMMY way: one attribute of each shape a schema can give.
const {Attribute, SchemaDefinition} = SCIMMY.Types;
const acme = new SchemaDefinition("AcmeUser", "urn:ietf:params:scim:schemas:extension:acme:2.0:User",
    "Acme's own user attributes", [
        new Attribute("string", "badge", {caseExact: true}),
        new Attribute("integer", "level"),
        new Attribute("boolean", "remote"),
        new Attribute("string", "skills", {multiValued: true}),
        new Attribute("complex", "office", {}, [
            new Attribute("string", "building"),
            new Attribute("integer", "floor"),
        ]),
    ]);

/**
 * store declares a resource type over an in-memory Map, with `unique` unique
 * case-insensitively (userName for Users, displayName for Groups: RFC 7643 §4.1.1, §4.2).
 */
function store(Resource, unique) {
    /** @type {Map<string, object>} id -> stored resource (as SCIMMY handed it to us) */
    const items = new Map();
    /** @type {Map<string, string>} lower(unique) -> id: the index a directory keeps */
    const byKey = new Map();
    const stored = (id) => {
        const it = items.get(id);
        if (!it) throw new SCIMMY.Types.Error(404, null, `Resource ${id} not found`);
        return it;
    };
    // candidates narrows a list to the resources a filter can match, when every branch of
    // it is `unique eq "x"` (the lookup provisioning clients send before creating, alone or
    // or-ed): a real store answers that from its index, not by scanning every resource.
    // SCIMMY's own matcher still decides which candidates match.
    const candidates = (filter) => {
        const names = [];
        for (const branch of filter) {
            const [[attr, expr], ...more] = Object.entries(branch);
            if (more.length || lower(attr) !== lower(unique) || !Array.isArray(expr) || expr[0] !== "eq") return null;
            names.push(lower(expr[1]));
        }
        return [...new Set(names)].map((n) => items.get(byKey.get(n))).filter(Boolean);
    };
    return SCIMMY.Resources.declare(Resource)
        .ingress((resource, instance) => {
            const data = JSON.parse(JSON.stringify(instance));
            const k = lower(data[unique]);
            const holder = byKey.get(k);
            if (holder !== undefined && holder !== resource.id)
                throw new SCIMMY.Types.Error(409, "uniqueness", `${unique} ${data[unique]} is already in use`);
            const now = new Date().toISOString();
            if (resource.id) {
                const cur = stored(resource.id);
                const next = {...data, id: resource.id, meta: {...cur.meta, lastModified: now}};
                byKey.delete(lower(cur[unique]));
                byKey.set(k, resource.id);
                items.set(resource.id, next);
                return next;
            }
            const id = randomUUID();
            const next = {...data, id, meta: {created: now, lastModified: now}};
            byKey.set(k, id);
            items.set(id, next);
            return next;
        })
        .egress((resource) => {
            if (resource.id) return stored(resource.id);
            const all = (resource.filter && candidates(resource.filter)) || [...items.values()];
            const hits = resource.filter ? resource.filter.match(all) : all;
            // SCIMMY leaves paging to the application: it coerces every resource egress
            // returns, then drops those before startIndex unless the list already ends at
            // totalResults, then truncates to count; startIndex and totalResults are the
            // store's job. Returning the whole remainder would make SCIMMY coerce it on every
            // page (quadratic over a listing), so answer just the page where SCIMMY's offset
            // rule then leaves it alone: on the first page, or when startIndex is past count.
            // Sorting (SCIMMY sorts what it is given) and other offsets get the remainder.
            const c = resource.constraints ?? {};
            const start = Math.max(Number(c.startIndex ?? 1), 1);
            const count = Math.max(Number(c.count ?? 20), 0);
            if (resource.constraints) resource.constraints.totalResults = hits.length;
            if (c.sortBy === undefined && (start === 1 || start > count))
                return hits.slice(start - 1, start - 1 + count);
            return hits.slice(start - 1);
        })
        .degress((resource) => {
            const cur = stored(resource.id);
            byKey.delete(lower(cur[unique]));
            items.delete(resource.id);
        });
}

store(SCIMMY.Resources.User, "userName")
    .extend(SCIMMY.Schemas.EnterpriseUser, false)
    .extend(acme, false);
store(SCIMMY.Resources.Group, "displayName");

SCIMMY.Config.set({
    patch: true,
    filter: 200,
    sort: true,
    // SCIMMY's BulkRequest scans every POST's data for every bulkId (quadratic in the
    // operations of one request: 200 users cost 40,000 JSON.stringify calls), so this
    // server takes 50 operations a request; clients read it from ServiceProviderConfig.
    bulk: 50,
});

const app = express();
// SCIMMY takes startIndex and count only as numbers, and Express hands the query over as
// strings: without this shim every list answers the first 20 users whatever is asked.
app.use((req, res, next) => {
    const q = {...req.query};
    for (const k of ["startIndex", "count"]) {
        if (typeof q[k] === "string" && /^-?\d+$/.test(q[k])) q[k] = Number(q[k]);
    }
    Object.defineProperty(req, "query", {value: q, configurable: true, enumerable: true, writable: true});
    next();
});
app.use("/scim/v2", new SCIMMYRouters({
    type: "bearer",
    handler: (req) => {
        if (req.header("Authorization") !== `Bearer ${token}`) throw new Error("invalid bearer token");
        return "ferry";
    },
}));

const server = app.listen(port, "127.0.0.1", () => {
    const {port: p} = server.address();
    console.log(`READY http://127.0.0.1:${p}/scim/v2`);
});
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => server.close(() => process.exit(0)));
