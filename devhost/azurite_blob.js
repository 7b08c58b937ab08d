#!/usr/bin/env node
// Azurite's blob service with Azure's current rule for create-only SAS tokens.
//
// From service version 2026-04-06 Azure lets a SAS with create (c) but not write (w)
// stage blocks and commit a block list for a new blob, so the official SDKs can
// upload in blocks with the app's create-only upload URL. Azurite 3.37 still asks for
// write (its OPERATION_BLOB_SAS_*_PERMISSIONS tables). Rather than widen the SAS the
// app signs (and test something production never sees), this launcher teaches the
// pinned Azurite the new rule before starting it:
//   - Put Block and Put Block List accept c or w;
//   - Put Block List with c alone is refused once the blob exists, as Put Blob is,
//     so a create-only URL still cannot replace a committed blob.
// Arguments are Azurite's own (`azurite-blob --help`).
"use strict";

const path = require("path");

const root = path.join(__dirname, "..", "node_modules", "azurite", "dist", "src", "blob");
const load = (relative) => require(path.join(root, relative));

const Operation = load("generated/artifacts/operation").default;
const permissions = load("authentication/OperationBlobSASPermission");
const BlobSASAuthenticator = load("authentication/BlobSASAuthenticator").default;
const BlobStorageContext = load("context/BlobStorageContext").default;
const StorageErrorFactory = load("errors/StorageErrorFactory").default;

const CREATE_OR_WRITE = new permissions.OperationBlobSASPermission("cw");
for (const table of [
  permissions.OPERATION_BLOB_SAS_BLOB_PERMISSIONS,
  permissions.OPERATION_BLOB_SAS_CONTAINER_PERMISSIONS,
]) {
  table.set(Operation.BlockBlob_StageBlock, CREATE_OR_WRITE);
  table.set(Operation.BlockBlob_CommitBlockList, CREATE_OR_WRITE);
}

const validate = BlobSASAuthenticator.prototype.validate;
BlobSASAuthenticator.prototype.validate = async function (req, context) {
  const result = await validate.call(this, req, context);
  if (result === true && context.operation === Operation.BlockBlob_CommitBlockList) {
    const granted = this.decodeIfExist(req.getQuery("sp")) || "";
    const blob = new BlobStorageContext(context);
    if (!granted.includes("w") && (await this.blobExist(blob.account, blob.container, blob.blob))) {
      throw StorageErrorFactory.getAuthorizationPermissionMismatch(context.contextId);
    }
  }
  return result;
};

load("main");
