# Written by drover: the commit each git stack source resolved to. Keep it
# with the playbook; `drover stack update` resolves the refs again.

stack "https://example.org/base.git" {
  url    = "https://example.org/base.git"
  commit = "0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d"
}

stack "https://example.org/stacks.git?ref=v1.2" {
  url    = "https://example.org/stacks.git"
  ref    = "v1.2"
  commit = "4f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39"
}
