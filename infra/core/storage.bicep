// The storage account: the app's deployment package, uploads, thumbnails and quarantine,
// a CORS rule for the browsers' direct PUTs, and the Event Grid system topic whose
// BlobCreated events drive the blob trigger (Flex Consumption supports no polling).
param location string
param tags object
param name string
param containerNames array
param corsOrigins array
param systemTopicName string

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: browsers PUT uploads straight to the account with a user-delegation SAS from any network
  // checkov:skip=CKV_AZURE_59: same reason: public network access is needed for those PUTs; anonymous blob access is off
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  // checkov:skip=CKV_AZURE_206: zone-redundant (ZRS) survives a datacentre loss; geo-replication (GZRS) doubles the cost and is a recovery-objective choice (docs/operations.md)
  sku: { name: 'Standard_ZRS' }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    // Everything uses Entra ID: the host (AzureWebJobsStorage__accountName), the app
    // (AZURE_STORAGE_ACCOUNT_URL) and the browsers, whose SAS are user-delegation SAS.
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      // Browsers PUT uploads from anywhere with a SAS: the account must be public.
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: { enabled: true, days: 7 }
    containerDeleteRetentionPolicy: { enabled: true, days: 7 }
    cors: {
      corsRules: [
        {
          allowedOrigins: corsOrigins
          allowedMethods: ['PUT', 'GET', 'HEAD', 'OPTIONS']
          allowedHeaders: ['x-ms-blob-type', 'content-type', 'x-ms-*']
          exposedHeaders: ['etag', 'last-modified', 'content-length', 'content-type', 'x-ms-*']
          maxAgeInSeconds: 3600
        }
      ]
    }
  }
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [
  for containerName in containerNames: {
    parent: blobService
    name: containerName
    properties: { publicAccess: 'None' }
  }
]

resource systemTopic 'Microsoft.EventGrid/systemTopics@2024-06-01-preview' = {
  name: systemTopicName
  location: location
  tags: tags
  properties: {
    source: storage.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

output name string = storage.name
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output systemTopicName string = systemTopic.name
