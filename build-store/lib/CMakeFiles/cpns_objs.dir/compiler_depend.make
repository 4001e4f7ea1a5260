# Empty compiler generated dependencies file for cpns_objs.
# This may be replaced when dependencies are built.
