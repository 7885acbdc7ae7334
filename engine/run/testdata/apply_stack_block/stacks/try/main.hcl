variable "name" { type = string }
variable "root" { type = string }
variable "fail" { type = bool }

block "try" {
  shell "step" {
    run = var.fail ? "exit 1" : "true"
  }
  rescue {
    file "rescued" {
      path    = "${var.root}/${var.name}.rescued"
      content = "r\n"
    }
  }
}
