"""The Functions app: one FunctionApp that registers every area's blueprint."""

import azure.functions as func

from blueprints import admin, auth, docs, health, users

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

for blueprint in (health.bp, auth.bp, users.bp, admin.bp, docs.bp):
    app.register_functions(blueprint)
