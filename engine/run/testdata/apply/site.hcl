variable "root" { type = string }

play "local" {
  hosts = "all"

  file "a" {
    path    = "${var.root}/a"
    content = "first\n"
    notify  = [handler.mark]
  }
  file "b" {
    path    = "${var.root}/b"
    content = "copy of a: ${file.a.content}"
  }
  handler "mark" {
    file {
      path    = "${var.root}/handler-ran"
      content = "yes\n"
    }
  }
}
