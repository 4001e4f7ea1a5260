# Empty dependencies file for cpns-server.
# This may be replaced when dependencies are built.
