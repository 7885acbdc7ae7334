variable "path" { type = string }
variable "lines" { type = list(string) }

file "env" {
  path    = var.path
  content = join("\n", var.lines)
  notify  = [handler.changed]
}

handler "changed" {
  file {
    path    = "${var.path}.changed"
    content = "yes"
  }
}

output "path" {
  value = file.env.path
}
