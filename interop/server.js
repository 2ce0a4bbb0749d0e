// An independent SCIM 2.0 service provider for ferry's interoperability tests.
//
// The protocol side (routing, schema validation and coercion, filters, sorting, paging,
// PATCH, Bulk, error shapes, discovery) is SCIMMY and scimmy-routers, an open-source
// SCIM 2.0 library this project did not write. This file only supplies what SCIMMY leaves
// to the application: an in-memory store, userName uniqueness (409) and bearer-token
// authentication, the way an application embedding SCIMMY would.
//
// Usage: node server.js [PORT]      (or PORT=... / SCIM_TOKEN=... in the environment)
// Prints one line "READY <base url>" once it listens on 127.0.0.1; SCIM_TOKEN (default
// "interop-token") is the bearer token it accepts. BULK=1 advertises /Bulk support.
import {randomUUID} from "node:crypto";
import express from "express";
import SCIMMY from "scimmy";
import SCIMMYRouters from "scimmy-routers";

const port = Number(process.argv[2] ?? process.env.PORT ?? 0);
const token = process.env.SCIM_TOKEN || "interop-token";

/** @type {Map<string, object>} id -> stored user (as SCIMMY handed it to us) */
const users = new Map();

const lower = (s) => String(s ?? "").toLowerCase();

function stored(id) {
    const u = users.get(id);
    if (!u) throw new SCIMMY.Types.Error(404, null, `Resource ${id} not found`);
    return u;
}

SCIMMY.Resources.declare(SCIMMY.Resources.User)
    .ingress((resource, instance) => {
        const data = JSON.parse(JSON.stringify(instance));
        for (const [id, u] of users) {
            if (id !== resource.id && lower(u.userName) === lower(data.userName))
                throw new SCIMMY.Types.Error(409, "uniqueness", `userName ${data.userName} is already in use`);
        }
        const now = new Date().toISOString();
        if (resource.id) {
            const cur = stored(resource.id);
            const next = {...data, id: resource.id, meta: {...cur.meta, lastModified: now}};
            users.set(resource.id, next);
            return next;
        }
        const id = randomUUID();
        const next = {...data, id, meta: {created: now, lastModified: now}};
        users.set(id, next);
        return next;
    })
    .egress((resource) => {
        if (resource.id) return stored(resource.id);
        const all = [...users.values()];
        return resource.filter ? resource.filter.match(all) : all;
    })
    .degress((resource) => {
        stored(resource.id);
        users.delete(resource.id);
    });

SCIMMY.Config.set({
    patch: true,
    filter: 200,
    sort: true,
    ...(process.env.BULK === "1" ? {bulk: 100} : {}),
});

const app = express();
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
