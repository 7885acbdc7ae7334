play "web" {
  hosts = "all"
  stack "a" {
    source = "./stacks/a"
  }
}
