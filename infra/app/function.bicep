// The Flex Consumption plan and the Function App (Python 3.11, like the app and CI)
// with a system-assigned identity; every setting production needs, secrets as Key
// Vault references, storage reached with the identity (no connection strings).
param location string
param tags object
param name string
param planName string
param storageAccountName string
param deploymentContainerName string
param uploadsContainerName string
param thumbnailsContainerName string
param quarantineContainerName string
param applicationInsightsName string
param keyVaultUri string
param corsOrigins array
param frontendUrl string
param databaseName string
param clamdUrl string
param smtpHost string
param smtpUser string
param smtpFrom string
param maximumInstanceCount int
param instanceMemoryMB int

@description('Flex Consumption runs Python 3.11, 3.12 and 3.13; 3.11 is what CI tests.')
param pythonVersion string = '3.11'

@description('NCRONTAB schedule of the maintenance timer.')
param maintenanceSchedule string = '0 */15 * * * *'

var blobServiceUri = 'https://${storageAccountName}.blob.${environment().suffixes.storage}'
var queueServiceUri = 'https://${storageAccountName}.queue.${environment().suffixes.storage}'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: zone redundancy of Flex Consumption exists only in some regions; a region choice, not a template default
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222: the API is public by design (browsers call it); it authenticates every caller itself
  // checkov:skip=CKV_AZURE_17: browsers present no client certificate; callers authenticate with bearer tokens
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales from zero; always-ready instances are a cost choice, not a default
  // checkov:skip=CKV_AZURE_213: platform health check is not offered on Flex Consumption; /api/v1/health/ready is for an external probe (docs/operations.md)
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    publicNetworkAccess: 'Enabled'
    siteConfig: {
      minTlsVersion: '1.2'
      http20Enabled: true
      ftpsState: 'Disabled'
      // On Flex Consumption the platform answers CORS preflights itself: it needs the
      // same list as the app's CORS_ORIGINS.
      cors: {
        allowedOrigins: corsOrigins
        supportCredentials: false
      }
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'SystemAssignedIdentity'
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: pythonVersion
      }
    }
  }
}

resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  // These site checks read the app-settings resource as if it were the site configuration:
  // checkov:skip=CKV_AZURE_222: the API is public by design (see the site above)
  // checkov:skip=CKV_AZURE_13: the API authenticates with its own JWTs; App Service Authentication would block its anonymous routes (register, login, health)
  // checkov:skip=CKV_AZURE_88: Flex Consumption has no Azure Files content share; the package lives in the deployment container
  // checkov:skip=CKV_AZURE_80: not a .NET app
  // checkov:skip=CKV_AZURE_63: App Service HTTP logs do not exist on Flex Consumption; requests are logged by the app to Application Insights
  // checkov:skip=CKV_AZURE_65: detailed error pages do not apply to a JSON API on Flex Consumption; errors are problem+json and in Application Insights
  // checkov:skip=CKV_AZURE_66: failed request tracing (IIS) does not exist on Linux Flex Consumption; Application Insights records failed requests
  parent: functionApp
  name: 'appsettings'
  properties: {
    // The host's own storage and the blob trigger's connection, through the identity.
    AzureWebJobsStorage__accountName: storageAccountName
    UploadsStorage__blobServiceUri: blobServiceUri
    UploadsStorage__queueServiceUri: queueServiceUri
    APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD'

    ENVIRONMENT: 'production'
    DEBUG: 'false'
    LOG_LEVEL: 'INFO'
    SECRET_KEY: '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/secret-key/)'
    DATA_ENCRYPTION_KEY: '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/data-encryption-key/)'
    DATABASE_URL: '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/database-url/)'
    DATABASE_NAME: databaseName

    AZURE_STORAGE_ACCOUNT_URL: blobServiceUri
    UPLOADS_CONTAINER: uploadsContainerName
    THUMBNAILS_CONTAINER: thumbnailsContainerName
    QUARANTINE_CONTAINER: quarantineContainerName
    UPLOADS_TRIGGER_SOURCE: 'EventGrid'
    CLAMD_URL: clamdUrl
    MAINTENANCE_SCHEDULE: maintenanceSchedule

    CORS_ORIGINS: join(corsOrigins, ',')
    FRONTEND_URL: frontendUrl
    // Azure's front end appends the client address to X-Forwarded-For.
    TRUSTED_PROXY_COUNT: '1'
    RATE_LIMIT_ENABLED: 'true'

    SMTP_HOST: smtpHost
    SMTP_USER: smtpUser
    SMTP_FROM: smtpFrom
  }
}

output name string = functionApp.name
output principalId string = functionApp.identity.principalId
output url string = 'https://${functionApp.properties.defaultHostName}'
