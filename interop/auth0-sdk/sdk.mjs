// Drives ferry's Auth0 sandbox with the official Auth0 Node.js SDK (npm package "auth0",
// v7: ManagementClient, and AuthenticationClient from its "auth0/legacy" entry point), for
// every Management and Authentication API call ferry makes. Started by the Go test
// internal/sandbox/auth0/sdk_interop_test.go, which serves the sandbox over TLS on a
// generated certificate (trusted here through NODE_EXTRA_CA_CERTS) and checks the tenant's
// state afterwards.
//
// Environment: AUTH0_DOMAIN (host:port of the tenant), AUTH0_CLIENT_ID, AUTH0_CLIENT_SECRET,
// AUTH0_RL_DOMAIN (a second tenant, same credentials, with a 2-request bucket), SAMPLE_USER
// (a user id of the tenant), EXPECT_USERS (its user count), ROLE_NAME (a role with many
// members).
//
// Output: one JSON line per check, {"check":NAME,"ok":true} or {"check":NAME,"ok":false,
// "error":TEXT}, then {"done":true}; the exit status is 1 if any check failed. Checks never
// print a secret.
import {gunzipSync} from "node:zlib";
import {ManagementClient, ManagementError} from "auth0";
import {AuthenticationClient} from "auth0/legacy";

const env = (k) => {
    const v = process.env[k];
    if (!v) throw new Error(`missing environment variable ${k}`);
    return v;
};
const domain = env("AUTH0_DOMAIN");
const rlDomain = env("AUTH0_RL_DOMAIN");
const clientId = env("AUTH0_CLIENT_ID");
const clientSecret = env("AUTH0_CLIENT_SECRET");
const sampleUser = env("SAMPLE_USER");
const expectUsers = Number(env("EXPECT_USERS"));
const roleName = env("ROLE_NAME");

let failed = 0;
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const scrub = (s) => String(s).split(clientSecret).join("[client secret]");

class CheckError extends Error {}
function assert(cond, msg) {
    if (!cond) throw new CheckError(msg);
}
function eq(got, want, what) {
    assert(JSON.stringify(got) === JSON.stringify(want), `${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
}

async function check(name, fn) {
    try {
        await fn();
        out({check: name, ok: true});
    } catch (e) {
        failed++;
        let msg = e instanceof CheckError ? e.message : `${e?.name}: ${e?.message}`;
        if (e instanceof ManagementError) msg += ` (status ${e.statusCode}, body ${JSON.stringify(e.body)})`;
        out({check: name, ok: false, error: scrub(msg)});
    }
}

// expectError runs fn, which must fail with a ManagementError of the given status; it
// returns the error for further checks.
async function expectError(fn, status, what) {
    try {
        await fn();
    } catch (e) {
        assert(e instanceof ManagementError, `${what}: want a ManagementError, got ${e?.name}: ${e?.message}`);
        eq(e.statusCode, status, `${what}: status`);
        return e;
    }
    throw new CheckError(`${what}: succeeded, want HTTP ${status}`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// pollJob polls GET /api/v2/jobs/{id} until the job leaves pending/processing.
async function pollJob(mgmt, id) {
    for (let i = 0; i < 400; i++) {
        const job = await mgmt.jobs.get(id);
        if (job.status !== "pending" && job.status !== "processing") return job;
        await sleep(50);
    }
    throw new CheckError(`job ${id} did not finish`);
}

const mgmt = new ManagementClient({domain, clientId, clientSecret});

// --- Authentication API: client-credentials grant -------------------------------------
await check("token/client-credentials", async () => {
    const auth = new AuthenticationClient({domain, clientId, clientSecret});
    const {data} = await auth.oauth.clientCredentialsGrant({audience: `https://${domain}/api/v2/`});
    assert(typeof data.access_token === "string" && data.access_token.split(".").length === 3, "access_token is a JWT");
    eq(data.token_type, "Bearer", "token_type");
    assert(data.expires_in > 0, `expires_in ${data.expires_in}`);
    const claims = JSON.parse(Buffer.from(data.access_token.split(".")[1], "base64url").toString());
    eq(claims.aud, `https://${domain}/api/v2/`, "aud claim");
    eq(claims.gty, "client-credentials", "gty claim");
});

await check("token/wrong-secret", async () => {
    const auth = new AuthenticationClient({domain, clientId, clientSecret: "not-the-secret"});
    try {
        await auth.oauth.clientCredentialsGrant({audience: `https://${domain}/api/v2/`});
    } catch (e) {
        // Auth0 answers a bad client secret with 401 {"error":"access_denied","error_description":"Unauthorized"}.
        eq(e.statusCode, 401, "status");
        eq(e.error, "access_denied", "error");
        eq(e.error_description, "Unauthorized", "error_description");
        assert(!JSON.stringify(e).includes("not-the-secret"), "the secret is echoed");
        return;
    }
    throw new CheckError("a wrong secret got a token");
});

await check("token/wrong-audience", async () => {
    const auth = new AuthenticationClient({domain, clientId, clientSecret});
    try {
        await auth.oauth.clientCredentialsGrant({audience: "https://elsewhere.example/api/"});
    } catch (e) {
        eq(e.statusCode, 403, "status");
        eq(e.error, "access_denied", "error");
        assert(/Service not enabled within domain/.test(e.error_description), `error_description ${e.error_description}`);
        return;
    }
    throw new CheckError("a foreign audience got a token");
});

await check("token/management-client-bad-secret", async () => {
    const bad = new ManagementClient({domain, clientId, clientSecret: "not-the-secret"});
    const e = await expectError(() => bad.users.get(sampleUser), 401, "users.get with a bad client secret");
    assert(!JSON.stringify(e.body ?? "").includes("not-the-secret"), "the secret is echoed");
});

await check("token/invalid-bearer", async () => {
    const forged = new ManagementClient({domain, token: "a.b.c"});
    const e = await expectError(() => forged.users.get(sampleUser), 401, "forged token");
    eq(e.body?.statusCode, 401, "body.statusCode");
    eq(e.body?.error, "Unauthorized", "body.error");
    eq(e.body?.message, "Invalid token", "body.message");
});

// --- Users ----------------------------------------------------------------------------
await check("users/list-page-per_page-include_totals", async () => {
    const page = await mgmt.users.list({page: 0, per_page: 100, include_totals: true, sort: "created_at:1"});
    const r = page.response;
    eq([r.start, r.limit, r.length], [0, 100, 100], "start, limit, length");
    eq(r.total, expectUsers, "total");
    eq(page.data.length, 100, "users on the page");
    for (let k = 1; k < page.data.length; k++) {
        assert(page.data[k - 1].created_at <= page.data[k].created_at, "sort=created_at:1 is ascending");
    }
});

await check("users/paging-to-the-1000-cap", async () => {
    // The SDK's iterator follows page+1 while pages are full; the API serves the first
    // 1,000 results of a query however they are paged.
    const ids = new Set();
    let page = await mgmt.users.list({page: 0, per_page: 100, include_totals: true});
    for (;;) {
        for (const u of page.data) ids.add(u.user_id);
        if (page.response.start + page.data.length >= 1000) break;
        assert(page.hasNextPage(), `no next page after ${ids.size}`);
        page = await page.getNextPage();
    }
    eq(ids.size, 1000, "distinct users in the first 1,000");
    const e = await expectError(() => mgmt.users.list({page: 10, per_page: 100, include_totals: true}), 400, "page 10 x 100");
    assert(/1000/.test(e.body?.message ?? ""), `cap message: ${e.body?.message}`);
    await expectError(() => mgmt.users.list({page: 0, per_page: 101}), 400, "per_page 101");
});

await check("users/created_at-window-query", async () => {
    const first = (await mgmt.users.list({per_page: 5, include_totals: true, sort: "created_at:1"})).data;
    const a = first[0].created_at, b = first[4].created_at;
    const page = await mgmt.users.list({
        q: `created_at:[${a} TO ${b}]`, search_engine: "v3", sort: "created_at:1",
        per_page: 100, include_totals: true,
    });
    assert(page.data.length >= 5, `window holds ${page.data.length} users`);
    for (const u of page.data) assert(u.created_at >= a && u.created_at <= b, `user ${u.user_id} outside the window`);
});

await check("users/get", async () => {
    const u = await mgmt.users.get(sampleUser);
    eq(u.user_id, sampleUser, "user_id");
    assert(Array.isArray(u.identities) && u.identities.length > 0, "identities");
    assert(!("password_hash" in u), "password_hash is never returned");
    const e = await expectError(() => mgmt.users.get("auth0|no-such-user"), 404, "missing user");
    eq(e.body?.errorCode, "inexistent_user", "errorCode");
});

await check("users/by-email", async () => {
    const u = await mgmt.users.get(sampleUser);
    if (!u.email) return;
    const found = await mgmt.users.listUsersByEmail({email: u.email});
    assert(found.some((x) => x.user_id === sampleUser), "users-by-email finds the user");
});

await check("users/search-emails-with-fields", async () => {
    // ferry's lookup before an upsert: q=email:"a" OR email:"b" with a field projection.
    const some = (await mgmt.users.list({per_page: 3, include_totals: true})).data.filter((u) => u.email).slice(0, 2);
    assert(some.length === 2, "two users with emails");
    const q = some.map((u) => `email:"${u.email}"`).join(" OR ");
    const page = await mgmt.users.list({q, search_engine: "v3", per_page: 100, include_totals: true,
        fields: "user_id,email,created_at,updated_at,identities", include_fields: true});
    eq(page.data.map((u) => u.user_id).sort(), some.map((u) => u.user_id).sort(), "users found by email");
    for (const u of page.data) {
        for (const k of Object.keys(u)) {
            assert(["user_id", "email", "created_at", "updated_at", "identities"].includes(k), `field ${k} outside the projection`);
        }
    }
});

// --- Connections ----------------------------------------------------------------------
let dbConnection;
await check("connections/list", async () => {
    // The SDK pages connections by checkpoint (take, then from=next).
    const page = await mgmt.connections.list({strategy: ["auth0"], take: 1});
    dbConnection = page.data.find((c) => c.name === "Username-Password-Authentication");
    assert(dbConnection && /^con_[A-Za-z0-9]{16}$/.test(dbConnection.id), "the database connection and its id");
    eq(dbConnection.strategy, "auth0", "strategy");
    const byName = await mgmt.connections.list({name: "github"});
    eq(byName.data.map((c) => c.name), ["github"], "name filter");
    const first = await mgmt.connections.list({take: 1});
    eq(first.data.length, 1, "take=1 gives one connection");
    assert(first.hasNextPage(), "a next checkpoint after the first of several connections");
    const all = [];
    for await (const c of first) all.push(c.name);
    eq(all.slice().sort(), ["Username-Password-Authentication", "github", "google-oauth2"], "checkpoint paging reaches every connection once");
});

// --- Export job -----------------------------------------------------------------------
await check("jobs/users-exports-json", async () => {
    const fields = [{name: "user_id"}, {name: "email"}, {name: "created_at"}, {name: "app_metadata", export_as: "meta"}];
    const job = await mgmt.jobs.usersExports.create({format: "json", fields});
    eq([job.type, job.status, job.format], ["users_export", "pending", "json"], "type, status, format");
    assert(/^job_/.test(job.id), `job id ${job.id}`);
    const done = await pollJob(mgmt, job.id);
    eq(done.status, "completed", "status");
    assert(typeof done.location === "string" && done.location.startsWith("https://"), `location ${done.location}`);
    const res = await fetch(done.location);
    eq(res.status, 200, "download status");
    const lines = gunzipSync(Buffer.from(await res.arrayBuffer())).toString("utf8").split("\n").filter((l) => l !== "");
    eq(lines.length, expectUsers, "exported users");
    const ids = new Set();
    for (const l of lines) {
        const u = JSON.parse(l);
        ids.add(u.user_id);
        for (const k of Object.keys(u)) assert(["user_id", "email", "created_at", "meta"].includes(k), `unexpected field ${k}`);
    }
    eq(ids.size, expectUsers, "distinct exported users");
    assert(ids.has(sampleUser), "the sample user is exported");
});

await check("jobs/users-exports-csv-limit-connection", async () => {
    const job = await mgmt.jobs.usersExports.create({
        format: "csv", limit: 5, connection_id: dbConnection?.id,
        fields: [{name: "user_id"}, {name: "email", export_as: "Email"}],
    });
    eq(job.connection_id, dbConnection?.id, "connection_id");
    const done = await pollJob(mgmt, job.id);
    eq(done.status, "completed", "status");
    const text = gunzipSync(Buffer.from(await (await fetch(done.location)).arrayBuffer())).toString("utf8");
    const rows = text.split(/\r?\n/).filter((l) => l !== "");
    eq(rows[0].replace(/"/g, ""), "user_id,Email", "CSV header");
    eq(rows.length, 6, "header + limit rows");
    await expectError(() => mgmt.jobs.usersExports.create({format: "xml"}), 400, "unknown format");
});

// --- Import job -----------------------------------------------------------------------
const stamp = Date.now().toString(36);
const good = (i) => ({email: `sdk-${stamp}-${i}@example.com`, email_verified: true, given_name: "Sdk", family_name: `User${i}`,
    user_metadata: {source: "sdk"}, app_metadata: {plan: "gold"}});
await check("jobs/users-imports-multipart", async () => {
    const users = [good(1), good(2), good(1), {...good(3), email_verified: "yes"}];
    const job = await mgmt.jobs.usersImports.create({
        users: {data: Buffer.from(JSON.stringify(users)), filename: "users.json", contentType: "application/json"},
        connection_id: dbConnection.id, upsert: false, external_id: `ext-${stamp}`, send_completion_email: false,
    });
    eq([job.type, job.status, job.connection_id, job.external_id], ["users_import", "pending", dbConnection.id, `ext-${stamp}`],
        "type, status, connection_id, external_id");
    const done = await pollJob(mgmt, job.id);
    eq(done.status, "completed", "status");
    eq(done.summary, {failed: 2, updated: 0, inserted: 2, total: 4}, "summary");
    // GET /api/v2/jobs/{id}/errors: [{user, errors:[{code, message, path}]}]
    const errs = await mgmt.jobs.errors.get(job.id);
    assert(Array.isArray(errs) && errs.length === 2, `errors: ${JSON.stringify(errs)}`);
    const codes = errs.flatMap((e) => e.errors.map((x) => x.code)).sort();
    eq(codes, ["DUPLICATED_USER", "INVALID_TYPE"], "error codes");
    for (const e of errs) {
        assert(e.user && typeof e.user.email === "string", "errors carry the user");
        for (const x of e.errors) assert(typeof x.message === "string" && x.message !== "", "errors carry a message");
    }
    const typed = errs.find((e) => e.errors[0].code === "INVALID_TYPE");
    eq(typed.errors[0].path, "email_verified", "INVALID_TYPE path");
});

await check("jobs/users-imports-upsert", async () => {
    const changed = {...good(1), given_name: "Changed"};
    const job = await mgmt.jobs.usersImports.create({
        users: new Blob([JSON.stringify([changed, good(4)])], {type: "application/json"}),
        connection_id: dbConnection.id, upsert: true, send_completion_email: false,
    });
    const done = await pollJob(mgmt, job.id);
    eq(done.status, "completed", "status");
    eq(done.summary, {failed: 0, updated: 1, inserted: 1, total: 2}, "summary");
    const found = await mgmt.users.listUsersByEmail({email: changed.email});
    eq(found.map((u) => u.given_name), ["Changed"], "upserted given_name");
});

await check("jobs/users-imports-refusals", async () => {
    await expectError(() => mgmt.jobs.usersImports.create({
        users: Buffer.from(JSON.stringify([good(9)])), connection_id: "con_0000000000000000",
    }), 404, "unknown connection");
    const e = await expectError(() => mgmt.jobs.usersImports.create({
        users: Buffer.from(JSON.stringify([good(9)])), connection_id: "con_short",
    }), 400, "malformed connection_id");
    assert(/does not match pattern/.test(e.body?.message ?? ""), `message ${e.body?.message}`);
    await expectError(() => mgmt.jobs.usersImports.create({
        users: Buffer.from("not json"), connection_id: dbConnection.id,
    }), 400, "a users file that is not JSON");
    await expectError(() => mgmt.jobs.get("job_0000000000000000"), 404, "missing job");
});

await check("users/link-identity", async () => {
    // What ferry does after an import whose user had a second database identity: link it
    // back to its primary (POST /api/v2/users/{id}/identities {provider, connection_id, user_id}).
    const [primary] = await mgmt.users.listUsersByEmail({email: good(2).email});
    const [secondary] = await mgmt.users.listUsersByEmail({email: good(4).email});
    assert(primary && secondary, "both imported users exist");
    const idents = await mgmt.users.identities.link(primary.user_id, {
        provider: "auth0", connection_id: dbConnection.id, user_id: secondary.user_id.replace(/^auth0\|/, ""),
    });
    eq(idents.length, 2, "identities after linking");
    eq(`${idents[1].provider}|${idents[1].user_id}`, secondary.user_id, "the linked identity");
    eq(idents[1].profileData?.email, good(4).email, "profileData.email");
    const e = await expectError(() => mgmt.users.get(secondary.user_id), 404, "the secondary as a user of its own");
    eq(e.body?.errorCode, "inexistent_user", "errorCode");
    await expectError(() => mgmt.users.identities.link(primary.user_id, {
        provider: "auth0", user_id: primary.user_id.replace(/^auth0\|/, ""),
    }), 400, "linking a user to itself");
});

// --- Roles, permissions, resource servers ---------------------------------------------
await check("roles/list-get", async () => {
    const page = await mgmt.roles.list({per_page: 100, include_totals: true});
    assert(page.data.length > 0 && page.response.total === page.data.length, `roles total ${page.response.total}`);
    const role = page.data.find((r) => r.name === roleName);
    assert(role, `role ${roleName}`);
    const one = await mgmt.roles.get(role.id);
    eq(one.name, roleName, "roles.get name");
    const filtered = await mgmt.roles.list({name_filter: roleName, per_page: 100, include_totals: true});
    assert(filtered.data.some((r) => r.id === role.id), "name_filter");
});

await check("roles/users-checkpoint-paging", async () => {
    const role = (await mgmt.roles.list({name_filter: roleName})).data.find((r) => r.name === roleName);
    // Offset paging gives the member count; checkpoint paging (from/take) must reach every one.
    const offset = await mgmt.roles.users.list(role.id, {take: 7});
    const seen = new Set();
    let pages = 0;
    for (let page = offset; ; page = await page.getNextPage()) {
        pages++;
        for (const u of page.data) {
            assert(!seen.has(u.user_id), `user ${u.user_id} twice`);
            seen.add(u.user_id);
            assert(typeof u.email === "string" || u.email === undefined, "member email");
        }
        if (!page.hasNextPage()) break;
    }
    assert(seen.size > 7 && pages === Math.ceil(seen.size / 7), `${seen.size} members in ${pages} pages`);
});

await check("roles/permissions-and-resource-servers", async () => {
    const roles = (await mgmt.roles.list({per_page: 100, include_totals: true})).data;
    const servers = (await mgmt.resourceServers.list({per_page: 100, include_totals: true})).data;
    const scopes = new Set(servers.flatMap((s) => (s.scopes ?? []).map((sc) => `${s.identifier} ${sc.value}`)));
    assert(servers.some((s) => s.is_system), "the Management API is listed as a system resource server");
    let perms = 0;
    for (const r of roles) {
        const page = await mgmt.roles.permissions.list(r.id, {per_page: 100, include_totals: true});
        for (const p of page.data) {
            perms++;
            assert(p.resource_server_identifier && p.permission_name, `permission shape ${JSON.stringify(p)}`);
            assert(scopes.has(`${p.resource_server_identifier} ${p.permission_name}`),
                `role ${r.name}: ${p.permission_name} on ${p.resource_server_identifier} is no scope of a resource server`);
        }
    }
    assert(perms > 0, "some role has permissions");
});

await check("roles/copy-calls", async () => {
    // What `ferry roles copy` does on a target: create a resource server, PATCH its whole
    // scope list, create a role, add permissions, assign users in bulk.
    const identifier = `https://sdk-${stamp}.example/api`;
    const rs = await mgmt.resourceServers.create({name: `sdk ${stamp}`, identifier, scopes: [{value: "read:a", description: "a"}]});
    const patched = await mgmt.resourceServers.update(rs.id, {scopes: [{value: "read:a", description: "a"}, {value: "write:b", description: "b"}]});
    eq(patched.scopes.map((s) => s.value).sort(), ["read:a", "write:b"], "patched scopes");
    const role = await mgmt.roles.create({name: `sdk-${stamp}`, description: "made by the SDK test"});
    await mgmt.roles.permissions.add(role.id, {permissions: [{resource_server_identifier: identifier, permission_name: "write:b"}]});
    const perms = (await mgmt.roles.permissions.list(role.id, {per_page: 100, include_totals: true})).data;
    eq(perms.map((p) => [p.resource_server_identifier, p.permission_name]), [[identifier, "write:b"]], "role permissions");
    await mgmt.roles.users.assign(role.id, {users: [sampleUser]});
    const members = (await mgmt.roles.users.list(role.id, {take: 50})).data;
    eq(members.map((m) => m.user_id), [sampleUser], "assigned members");
});

await check("users/delete", async () => {
    // ferry's mirror mode: DELETE /api/v2/users/{id} answers 204, and so does a second time
    // (ferry takes a 404 as already gone; Auth0 answers 204 either way).
    const victim = (await mgmt.users.list({per_page: 10, page: 5, include_totals: true})).data
        .find((u) => u.user_id !== sampleUser && !String(u.email).startsWith("sdk-"));
    await mgmt.users.delete(victim.user_id);
    await expectError(() => mgmt.users.get(victim.user_id), 404, "deleted user");
    await mgmt.users.delete(victim.user_id);
});

// --- Rate limits ------------------------------------------------------------------------
await check("ratelimit/headers", async () => {
    const rl = new ManagementClient({domain: rlDomain, clientId, clientSecret});
    const r = await rl.users.get(sampleUser).withRawResponse();
    const h = r.rawResponse.headers;
    eq(h.get("x-ratelimit-limit"), "2", "x-ratelimit-limit");
    assert(/^\d+$/.test(h.get("x-ratelimit-remaining") ?? ""), `x-ratelimit-remaining ${h.get("x-ratelimit-remaining")}`);
    const reset = Number(h.get("x-ratelimit-reset"));
    assert(reset >= Math.floor(Date.now() / 1000) - 1 && reset < Date.now() / 1000 + 60, `x-ratelimit-reset ${reset} is UNIX seconds`);
});

await check("ratelimit/429-and-sdk-retry", async () => {
    const rl = new ManagementClient({domain: rlDomain, clientId, clientSecret});
    // Drain the 2-request bucket without retries until the SDK sees a 429 itself (a loop, not
    // a count: on a busy machine the bucket may refill between calls).
    let e;
    for (let i = 0; i < 50 && !e; i++) {
        try {
            await rl.users.get(sampleUser, {}, {maxRetries: 0});
        } catch (err) {
            e = err;
        }
    }
    assert(e instanceof ManagementError, `no 429 in 50 calls on a 2-request bucket: ${e}`);
    eq(e.statusCode, 429, "status");
    eq(e.body?.statusCode, 429, "body.statusCode");
    eq(e.body?.errorCode, "too_many_requests", "body.errorCode");
    const reset = Number(e.rawResponse?.headers?.get("x-ratelimit-reset"));
    assert(reset * 1000 > Date.now() - 1000, `a 429 carries x-ratelimit-reset in the future: ${reset}`);
    // With its default retries the SDK waits until x-ratelimit-reset, when the bucket is full
    // again (2 requests), and gets through: two concurrent calls need one retry each at most.
    const got = await Promise.all([1, 2].map(() => rl.users.get(sampleUser)));
    eq(got.map((u) => u.user_id), [sampleUser, sampleUser], "users after retries");
});

out({done: true, failed});
process.exit(failed ? 1 : 0);
