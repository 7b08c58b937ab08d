// Development-only upload demo: sign in, ask the API for an upload URL, PUT the file
// straight to Blob Storage, then poll the upload until processing has finished.
"use strict";

(() => {
  const API_BASE = new URL("../v1/", document.baseURI);
  const POLL_INTERVAL_MS = 500;
  const POLL_LIMIT_MS = 10 * 60 * 1000;
  const FINAL_STATUSES = new Set(["ready", "rejected", "failed"]);
  const NOTHING = "–";

  // Kept in memory only: a reload signs out, and nothing lands in storage other
  // scripts of this origin could read.
  let accessToken = null;
  // Each file choice gets a number; an older upload stops rendering once a newer one starts.
  let currentAttempt = 0;

  const byTestId = (id) => document.querySelector(`[data-testid="${id}"]`);
  const ui = {
    loginForm: byTestId("login-form"),
    email: byTestId("email"),
    password: byTestId("password"),
    otp: byTestId("otp"),
    loginButton: byTestId("login-button"),
    loginStatus: byTestId("login-status"),
    fileInput: byTestId("file-input"),
    progress: byTestId("upload-progress"),
    uploadId: byTestId("upload-id"),
    status: byTestId("upload-status"),
    reason: byTestId("rejection-reason"),
    details: byTestId("upload-details"),
    error: byTestId("upload-error"),
    downloadLink: byTestId("download-link"),
    thumbnail: byTestId("thumbnail"),
  };

  // textContent only: every string shown comes from the API or the user.
  const show = (element, text) => {
    element.textContent = text;
  };
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  function describeProblem(status, problem) {
    if (problem && typeof problem === "object") {
      const code = problem.code ? ` (${problem.code})` : "";
      return `${problem.detail || problem.title || "Request failed"}${code}, HTTP ${status}`;
    }
    return `Request failed, HTTP ${status}`;
  }

  async function callApi(method, path, body) {
    const headers = { Accept: "application/json" };
    if (accessToken) headers.Authorization = `Bearer ${accessToken}`;
    const init = { method, headers, cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(new URL(path, API_BASE), init);
    const data = await response.json().catch(() => null);
    if (!response.ok) throw new Error(describeProblem(response.status, data));
    return data;
  }

  async function signIn(event) {
    event.preventDefault();
    const credentials = { email: ui.email.value.trim(), password: ui.password.value };
    const otp = ui.otp.value.trim();
    if (otp) credentials.otp = otp;
    accessToken = null;
    ui.fileInput.disabled = true;
    ui.loginButton.disabled = true;
    show(ui.loginStatus, "Signing in…");
    try {
      const tokens = await callApi("POST", "auth/login", credentials);
      accessToken = tokens.access_token;
      ui.password.value = "";
      ui.otp.value = "";
      ui.fileInput.disabled = false;
      show(ui.loginStatus, `Signed in as ${credentials.email}.`);
    } catch (error) {
      show(ui.loginStatus, `Sign-in failed: ${error.message}`);
    } finally {
      ui.loginButton.disabled = false;
    }
  }

  function putToBlobStorage(target, file) {
    // XMLHttpRequest, not fetch: only it reports upload progress.
    return new Promise((resolve, reject) => {
      const request = new XMLHttpRequest();
      request.open(target.method, target.url);
      for (const [name, value] of Object.entries(target.headers)) {
        request.setRequestHeader(name, value);
      }
      request.upload.addEventListener("progress", (event) => {
        if (!event.lengthComputable) return;
        ui.progress.max = event.total;
        ui.progress.value = event.loaded;
      });
      request.addEventListener("load", () => {
        if (request.status >= 200 && request.status < 300) {
          ui.progress.value = ui.progress.max;
          resolve();
        } else {
          reject(new Error(`Blob Storage refused the file, HTTP ${request.status}`));
        }
      });
      request.addEventListener("error", () => {
        reject(new Error("Could not reach Blob Storage (network or CORS)"));
      });
      request.send(file);
    });
  }

  function webUrl(value) {
    // Only http(s) links are followed: a javascript: URL must never reach href.
    if (typeof value !== "string") return null;
    try {
      const url = new URL(value);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch {
      return null;
    }
  }

  function describeMetadata(metadata) {
    if (!metadata) return NOTHING;
    if ("width" in metadata) return `${metadata.width} × ${metadata.height} ${metadata.format}`;
    if ("page_count" in metadata) {
      const title = metadata.title ? `, “${metadata.title}”` : "";
      return `PDF, ${metadata.page_count} page(s)${title}`;
    }
    return NOTHING;
  }

  function render(upload) {
    show(ui.status, upload.status);
    show(ui.reason, upload.rejection_reason || NOTHING);
    show(ui.details, describeMetadata(upload.metadata));
    if (upload.status !== "ready") return;
    const thumbnail = webUrl(upload.thumbnail_url);
    if (thumbnail) {
      ui.thumbnail.src = thumbnail;
      ui.thumbnail.hidden = false;
    }
    const download = webUrl(upload.download_url);
    if (download) {
      ui.downloadLink.href = download;
      ui.downloadLink.hidden = false;
    }
  }

  function resetResult() {
    ui.progress.max = 1;
    ui.progress.value = 0;
    for (const element of [ui.uploadId, ui.status, ui.reason, ui.details]) show(element, NOTHING);
    show(ui.error, "");
    ui.thumbnail.hidden = true;
    ui.thumbnail.removeAttribute("src");
    ui.downloadLink.hidden = true;
    ui.downloadLink.removeAttribute("href");
  }

  async function pollUntilFinished(uploadId, attempt) {
    const deadline = Date.now() + POLL_LIMIT_MS;
    while (attempt === currentAttempt) {
      const upload = await callApi("GET", `uploads/${encodeURIComponent(uploadId)}`);
      if (attempt !== currentAttempt) return;
      render(upload);
      if (FINAL_STATUSES.has(upload.status)) return;
      if (Date.now() > deadline) throw new Error("Stopped waiting: processing took too long");
      await sleep(POLL_INTERVAL_MS);
    }
  }

  async function uploadFile(file, attempt) {
    resetResult();
    show(ui.status, "requesting an upload URL");
    const created = await callApi("POST", "uploads", {
      filename: file.name,
      content_type: file.type || "application/octet-stream",
      size_bytes: file.size,
    });
    if (attempt !== currentAttempt) return;
    show(ui.uploadId, created.id);
    show(ui.status, "uploading to Blob Storage");
    await putToBlobStorage(created.upload, file);
    if (attempt !== currentAttempt) return;
    show(ui.status, "uploaded; waiting for processing");
    await pollUntilFinished(created.id, attempt);
  }

  function onFileChosen() {
    const file = ui.fileInput.files[0];
    if (!file) return;
    currentAttempt += 1;
    const attempt = currentAttempt;
    uploadFile(file, attempt).catch((error) => {
      if (attempt !== currentAttempt) return;
      show(ui.status, "error");
      show(ui.error, error.message);
    });
  }

  ui.loginForm.addEventListener("submit", signIn);
  ui.fileInput.addEventListener("change", onFileChosen);
})();
