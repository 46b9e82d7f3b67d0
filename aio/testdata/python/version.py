import sys
print(sys.version_info[0], sys.version_info[1])
