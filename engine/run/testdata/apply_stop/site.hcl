variable "root" { type = string }

play "local" {
  hosts = "all"

  shell "slow" {
    run = "sleep 1; echo done > ${var.root}/slow"
  }
  file "later" {
    path    = "${var.root}/later"
    content = "x\n"
  }
}
