// Key Vault (RBAC) holding the app's secrets; the app reads them through Key Vault
// references in its app settings, so no secret value sits in the site configuration.
param location string
param tags object
param name string

@secure()
param secretKey string
@secure()
param dataEncryptionKey string
@secure()
param databaseUrl string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109: the app reaches the vault over its public endpoint (no VNet integration in this template); access is RBAC-only
  // checkov:skip=CKV_AZURE_189: same reason; a private endpoint needs the VNet this template does not create
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

// Secret names are the settings' names in kebab case (Key Vault allows no underscore).
resource secretKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  // checkov:skip=CKV_AZURE_41: an expired secret makes the Key Vault reference fail and the app stop; rotation is an operator step (docs/operations.md)
  parent: vault
  name: 'secret-key'
  properties: { value: secretKey, contentType: 'text/plain' }
}

resource dataEncryptionKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  // checkov:skip=CKV_AZURE_41: an expired secret makes the Key Vault reference fail and the app stop; rotation is an operator step (docs/operations.md)
  parent: vault
  name: 'data-encryption-key'
  properties: { value: dataEncryptionKey, contentType: 'text/plain' }
}

resource databaseUrlSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  // checkov:skip=CKV_AZURE_41: an expired secret makes the Key Vault reference fail and the app stop; rotation is an operator step (docs/operations.md)
  parent: vault
  name: 'database-url'
  properties: { value: databaseUrl, contentType: 'text/uri-list' }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
