// A client developer's program: types from openapi-typescript, calls through openapi-fetch.
// Compiled with `tsc --strict` against the generated ./schema.d.ts, then run on Node:
//   node flow.mjs <origin>
// It prints one line per step and exits non-zero on the first surprise.

import createClient from "openapi-fetch";
import type { components, paths } from "./schema.js";

type Problem = components["schemas"]["Problem"];
type Tokens = components["schemas"]["Tokens"];

const origin = process.argv[2];
if (!origin) throw new Error("usage: node flow.mjs <origin>");

let steps = 0;
function check(condition: boolean, what: string, detail?: unknown): void {
  if (!condition) throw new Error(`${what} failed: ${JSON.stringify(detail)}`);
  steps += 1;
  console.log(`ok ${steps} ${what}`);
}

function bearer(tokens: Tokens): { Authorization: string } {
  return { Authorization: `Bearer ${tokens.access_token}` };
}

// The document names the API base: no base URL typed by hand.
const documentAnswer = await fetch(`${origin}/api/v1/openapi.json`);
const served = (await documentAnswer.json()) as { servers: { url: string }[] };
const baseUrl = served.servers[0]?.url ?? "";
check(baseUrl === origin, "servers[0] is this host", served.servers);
const client = createClient<paths>({ baseUrl });

const email = `ts.client.${Date.now()}@example.com`;
const password = "Violet-harbour-93-crosses-east";

// Optional fields left out: no full_name on sign-up, no otp at login.
const weak = await client.POST("/api/v1/auth/register", { body: { email, password: "short" } });
const weakProblem: Problem | undefined = weak.error;
const firstIssue = weakProblem?.errors?.[0];
check(weak.response.status === 422 && firstIssue?.loc[1] === "password", "weak password", weakProblem);

const registered = await client.POST("/api/v1/auth/register", { body: { email, password } });
check(registered.response.status === 201 && registered.data?.email === email, "sign-up", registered.error);
check(registered.data?.full_name === null, "no name yet", registered.data);

const login = await client.POST("/api/v1/auth/login", { body: { email, password } });
check(login.data !== undefined, "login", login.error);
let tokens: Tokens = login.data!;

const me = await client.GET("/api/v1/users/me", { headers: bearer(tokens) });
check(me.data?.email === email && me.data.role === "user", "me", me.error);

const untouched = await client.PATCH("/api/v1/users/me", { headers: bearer(tokens), body: {} });
check(untouched.data?.full_name === null, "edit with {}", untouched.error);
const named = await client.PATCH("/api/v1/users/me", {
  headers: bearer(tokens),
  body: { full_name: "Ada Typed" },
});
check(named.data?.full_name === "Ada Typed", "edit full_name", named.error);

const started = await client.POST("/api/v1/uploads", {
  headers: bearer(tokens),
  body: { filename: "notes.pdf", content_type: "application/pdf", size_bytes: 2048 },
});
const upload = started.data;
check(started.response.status === 201 && upload?.status === "pending", "upload create", started.error);
const instructions = upload?.upload;
check(
  instructions?.method === "PUT" && instructions.url.startsWith("http"),
  "upload instructions",
  instructions,
);

const listed = await client.GET("/api/v1/uploads", {
  headers: bearer(tokens),
  params: { query: { limit: 10, status: "pending" } },
});
check(listed.data?.items.some((item) => item.id === upload?.id) === true, "list", listed.error);

const refreshed = await client.POST("/api/v1/auth/refresh", {
  body: { refresh_token: tokens.refresh_token },
});
check(
  refreshed.data !== undefined && refreshed.data.refresh_token !== tokens.refresh_token,
  "refresh",
  refreshed.error,
);
tokens = refreshed.data!;

const loggedOut = await client.POST("/api/v1/auth/logout", {
  headers: bearer(tokens),
  body: { refresh_token: tokens.refresh_token },
});
check(loggedOut.response.status === 204, "logout", loggedOut.error);
check(loggedOut.response.headers.get("content-type") === null, "204 has no Content-Type");
const nothing: undefined = loggedOut.data;
check(nothing === undefined, "204 has no data");

const after = await client.GET("/api/v1/users/me", { headers: bearer(tokens) });
const refused: Problem | undefined = after.error;
check(after.response.status === 401 && refused?.code === "invalid_token", "401 after logout", refused);
check(refused?.errors === undefined, "no errors member on a 401", refused);

console.log(`flow complete: ${steps} steps`);
