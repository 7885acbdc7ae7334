printf 'hello from old\nrole=primary\n' > "$ROOT/motd"
printf 'token=old-token\n' > "$ROOT/token"
chmod 0600 "$ROOT/token"
