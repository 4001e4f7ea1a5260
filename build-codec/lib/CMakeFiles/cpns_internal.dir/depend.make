# Empty dependencies file for cpns_internal.
# This may be replaced when dependencies are built.
