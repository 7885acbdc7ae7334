# Stacks: one stack called twice (count), which itself calls a nested
# stack. Each call lays out a small site tree under var.dir; the play then
# writes an index of the sites from the stacks' outputs.
#
#   drover validate examples/stack-basics
#   drover plan  -i inventory.hcl examples/stack-basics --var dir=/tmp/stacks-demo
#   drover apply -i inventory.hcl examples/stack-basics --var dir=/tmp/stacks-demo
#
# Or apply the stack alone, without this playbook:
#
#   drover apply -i inventory.hcl examples/stack-basics/stacks/site --hosts web \
#     --var name=blog --var root=/tmp/stacks-demo --var port=8081

variable "dir" {
  type        = string
  description = "Absolute directory the sites are laid out in."
  default     = "/srv/stacks-demo"
}

variable "domain" {
  type    = string
  default = "example.test"
}

play "web" {
  hosts = "web"

  directory "root" {
    path = var.dir
    mode = "0755"
  }

  stack "site" {
    source = "./stacks/site"
    count  = 2

    name   = "site${count.index}"
    root   = directory.root.path
    domain = "site${count.index}.${var.domain}"
    port   = 8080 + count.index
  }

  file "index" {
    path    = "${var.dir}/index.txt"
    content = join("", [for s in stack.site : "${s.url} ${s.config}\n"])
  }
}
