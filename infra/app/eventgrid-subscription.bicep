// BlobCreated events of the uploads container → the blob extension's webhook, which
// is what a blob trigger with `source: EventGrid` listens on. Deployed by the
// postdeploy hook (infra/hooks/postdeploy.sh): the blobs_extension system key exists
// only once the app's code, with its blob trigger, is running, and Event Grid
// validates the webhook when the subscription is created.
param functionAppName string
param systemTopicName string
param uploadsContainerName string = 'uploads'

@description('The blob-triggered function, as the worker indexes it.')
param functionName string = 'process_upload'

resource functionApp 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource systemTopic 'Microsoft.EventGrid/systemTopics@2024-06-01-preview' existing = {
  name: systemTopicName
}

var blobsExtensionKey = listKeys('${functionApp.id}/host/default', '2024-04-01').systemKeys.blobs_extension

resource subscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2024-06-01-preview' = {
  parent: systemTopic
  name: '${uploadsContainerName}-blob-created'
  properties: {
    destination: {
      endpointType: 'WebHook'
      properties: {
        endpointUrl: 'https://${functionApp.properties.defaultHostName}/runtime/webhooks/blobs?functionName=Host.Functions.${functionName}&code=${blobsExtensionKey}'
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    filter: {
      includedEventTypes: ['Microsoft.Storage.BlobCreated']
      subjectBeginsWith: '/blobServices/default/containers/${uploadsContainerName}/'
    }
    eventDeliverySchema: 'EventGridSchema'
    retryPolicy: {
      // A day of retries; the maintenance job processes whatever still slips through.
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
  }
}
