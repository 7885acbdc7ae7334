#!/bin/sh
# Ansible runs an executable password file and reads its stdout.
echo vault-pw-Kq7
