// The whole stack for one azd environment: `azd up` provisions this, deploys the app,
// then the postdeploy hook subscribes the blob trigger to Event Grid (see azure.yaml).
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; names and tags every resource.')
param environmentName string

@minLength(1)
@description('Primary location for all resources.')
param location string

@description('Object id of the identity running azd (a developer or the CI service principal); may manage Key Vault secrets.')
param principalId string = ''

@description('principalId is a User or a ServicePrincipal.')
@allowed(['User', 'ServicePrincipal'])
param principalType string = 'User'

@minLength(1)
@description('Front-end origins allowed by CORS, comma-separated exact origins (no wildcard, no path): the app, the Function App and the storage account all use this list.')
param corsOrigins string

@description('Where password-reset mails link to (the front end).')
param frontendUrl string

@secure()
@minLength(32)
@description('SECRET_KEY: signs access tokens. At least 32 random bytes.')
param secretKey string

@secure()
@minLength(32)
@description('DATA_ENCRYPTION_KEY: encrypts secrets at rest; must differ from secretKey.')
param dataEncryptionKey string

@secure()
@description('DATABASE_URL: mongodb+srv://... of MongoDB Atlas or Azure Cosmos DB for MongoDB vCore.')
param databaseUrl string

@description('DATABASE_NAME: the database inside that server.')
param databaseName string = 'runtime_traitors'

@description('CLAMD_URL: tcp://host:3310 of a ClamAV daemon reachable from the app; empty skips scanning.')
param clamdUrl string = ''

@description('SMTP_HOST of the mail relay; empty logs mails instead of sending them.')
param smtpHost string = ''

@description('SMTP_USER of the mail relay.')
param smtpUser string = ''

@description('SMTP_FROM sender address.')
param smtpFrom string = 'Runtime Traitors <no-reply@runtime-traitors.example>'

@description('Largest number of instances Flex Consumption may scale out to.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory per instance (MB).')
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var functionAppName = 'func-${resourceToken}'
var corsOriginList = split(corsOrigins, ',')
var containers = {
  deployment: 'app-package-${take(resourceToken, 7)}'
  uploads: 'uploads'
  thumbnails: 'thumbnails'
  quarantine: 'quarantine'
}

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module monitoring 'core/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    location: location
    tags: tags
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: 'appi-${resourceToken}'
  }
}

module storage 'core/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    location: location
    tags: tags
    name: 'st${resourceToken}'
    containerNames: [containers.deployment, containers.uploads, containers.thumbnails, containers.quarantine]
    corsOrigins: corsOriginList
    systemTopicName: 'evgt-${resourceToken}'
  }
}

module keyVault 'core/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    location: location
    tags: tags
    name: 'kv-${resourceToken}'
    secretKey: secretKey
    dataEncryptionKey: dataEncryptionKey
    databaseUrl: databaseUrl
  }
}

module functionApp 'app/function.bicep' = {
  name: 'function'
  scope: rg
  params: {
    location: location
    tags: tags
    name: functionAppName
    planName: 'plan-${resourceToken}'
    storageAccountName: storage.outputs.name
    deploymentContainerName: containers.deployment
    uploadsContainerName: containers.uploads
    thumbnailsContainerName: containers.thumbnails
    quarantineContainerName: containers.quarantine
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    keyVaultUri: keyVault.outputs.uri
    corsOrigins: corsOriginList
    frontendUrl: frontendUrl
    databaseName: databaseName
    clamdUrl: clamdUrl
    smtpHost: smtpHost
    smtpUser: smtpUser
    smtpFrom: smtpFrom
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    keyVaultName: keyVault.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    appPrincipalId: functionApp.outputs.principalId
    deployerPrincipalId: principalId
    deployerPrincipalType: principalType
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_APP_URL string = functionApp.outputs.url
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_EVENTGRID_SYSTEM_TOPIC_NAME string = storage.outputs.systemTopicName
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output UPLOADS_CONTAINER string = containers.uploads
