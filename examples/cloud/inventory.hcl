# The provisioned hosts join the groups their provision blocks name (web, db);
# this file only says how to log in to them.
defaults {
  user          = "root"
  identity_file = "~/.ssh/id_ed25519"
}
