# Empty dependencies file for replay_codec.
# This may be replaced when dependencies are built.
