# cpnsctl profile: which entity cpnsctl talks to, and as whom.
# Use it with `cpnsctl -P FILE ...`, or set CPNSCTL_PROFILE=FILE.
# Options on the command line (-H, -i, -k) take precedence over these.
# Only the [cpnsctl] section is read; any other key in it is an error.
# See cpnsctl(1).

[cpnsctl]

# The entity: coaps://host:port. Pick one of:
#   coaps://127.0.0.1:5694     your PNE's local listener (CPNS-5), as an application
#   coaps://GATEWAY:5684       a PN gateway (CPNS-1), as an operator or a PNE
#   coaps://SERVER:5684        the CPNS server (CPNS-2), as an operator
# coap:// (no DTLS) is for development only.
uri = coaps://127.0.0.1:5694

# The PSK identity. It must be in the entity's keyring: role app on a PNE's
# [local] keyring, or role operator on a gateway's or the server's keyring.
identity = app

# The file holding this identity's key: one line of 64 hex digits, mode 0600.
# Make one with:  (umask 077; cpnsctl keygen > app.key)
key_file = /etc/cpns/app.key
