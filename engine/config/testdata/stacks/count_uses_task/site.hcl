play "web" {
  hosts = "all"
  command "n" {
    run = ["echo", "2"]
  }
  stack "app" {
    source = "./stacks/app"
    count  = length(command.n.run)
    name   = "shop${count.index}"
  }
}
