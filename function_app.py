"""The Functions app: one FunctionApp that registers every area's blueprint."""

import os

import azure.functions as func

from blueprints import admin, auth, docs, health, maintenance, upload_processor, uploads, users
from shared.production_policy import refuse_unsafe_environment

# A production app with placeholder secrets or the embedded database must not load.
refuse_unsafe_environment(os.environ)

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

BLUEPRINTS = [health.bp, auth.bp, users.bp, uploads.bp, upload_processor.bp, admin.bp, docs.bp]
BLUEPRINTS.append(maintenance.bp)  # the scheduled maintenance job (timer trigger)

# Pages for a developer's browser only, and only when development is said explicitly: an
# app setting forgotten on Azure must not expose them. Importing registers the routes.
if os.environ.get("ENVIRONMENT", "").strip().lower() == "development":
    from blueprints import demo

    BLUEPRINTS.append(demo.bp)

for blueprint in BLUEPRINTS:
    app.register_functions(blueprint)
