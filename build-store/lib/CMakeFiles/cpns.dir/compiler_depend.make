# Empty compiler generated dependencies file for cpns.
# This may be replaced when dependencies are built.
