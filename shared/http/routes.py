"""Route fragments shared by blueprints.

Path parameters are constrained to their real shape so no two routes can match the
same path (Azure orders overlapping routes by function name, not specificity).
"""

OBJECT_ID = r"^[0-9a-fA-F]{{24}}$"  # braces doubled: Azure route-template escaping
USER_ID = "{user_id:regex(" + OBJECT_ID + ")}"
UPLOAD_ID = "{upload_id:regex(" + OBJECT_ID + ")}"
