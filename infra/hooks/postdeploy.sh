#!/bin/sh
# azd postdeploy hook: subscribe the blob trigger to the uploads container's BlobCreated
# events. Runs after the code is deployed, because the blobs_extension key and the
# webhook Event Grid validates only exist once the blob trigger is running.
set -eu
: "${AZURE_RESOURCE_GROUP:?run through azd (azd up / azd deploy)}"
az deployment group create \
  --name "eventgrid-subscription" \
  --resource-group "$AZURE_RESOURCE_GROUP" \
  --template-file "$(dirname "$0")/../app/eventgrid-subscription.bicep" \
  --parameters \
    functionAppName="$AZURE_FUNCTION_APP_NAME" \
    systemTopicName="$AZURE_EVENTGRID_SYSTEM_TOPIC_NAME" \
    uploadsContainerName="$UPLOADS_CONTAINER" \
  --output none
echo "Event Grid: BlobCreated in $UPLOADS_CONTAINER -> $AZURE_FUNCTION_APP_NAME (process_upload)"
