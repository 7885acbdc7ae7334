variable "root" { type = string }

play "local" {
  hosts = "all"

  stack "a" {
    source = "./stacks/try"
    name   = "a"
    root   = var.root
    fail   = true
  }
  stack "b" {
    source = "./stacks/try"
    name   = "b"
    root   = var.root
    fail   = false
  }
}
