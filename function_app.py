"""The Functions app: one FunctionApp that registers every area's blueprint."""

import azure.functions as func

from blueprints import admin, auth, docs, health, upload_processor, uploads, users

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

BLUEPRINTS = [health.bp, auth.bp, users.bp, uploads.bp, upload_processor.bp, admin.bp, docs.bp]

for blueprint in BLUEPRINTS:
    app.register_functions(blueprint)
