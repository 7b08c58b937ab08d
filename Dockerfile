# The app on Microsoft's Azure Functions image, which carries the real Functions host and
# Python worker. docker-compose.yml runs it beside MongoDB 7 and Azurite; the `real-host`
# job of .github/workflows/test.yml runs the end-to-end suite against it.
# .dockerignore keeps the build context to what .funcignore ships to Azure.
ARG PYTHON_VERSION=3.12
FROM mcr.microsoft.com/azure-functions/python:4-python${PYTHON_VERSION}

ENV AzureWebJobsScriptRoot=/home/site/wwwroot \
    AzureFunctionsJobHost__Logging__Console__IsEnabled=true \
    FUNCTIONS_WORKER_RUNTIME=python \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Dependencies first: a code change then reuses this layer.
COPY requirements.txt /home/site/wwwroot/requirements.txt
RUN pip install --no-cache-dir -r /home/site/wwwroot/requirements.txt

COPY . /home/site/wwwroot
