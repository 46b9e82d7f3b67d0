# Placeholder so the embed pattern always matches; prints the interpreter version.
import json, sys
print(json.dumps({"version": sys.version.split()[0]}))
