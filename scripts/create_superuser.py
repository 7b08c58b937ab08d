"""Create an admin account from flags or an interactive prompt; refuses weak passwords."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared.errors import ValidationFailed
from shared.services.bootstrap import create_admin


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--email", help="the admin's email (prompted when omitted)")
    parser.add_argument("--full-name", default=None)
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input instead of prompting",
    )
    args = parser.parse_args(argv)
    email = args.email or input("Email: ").strip()
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != password:
            print("error: the passwords differ", file=sys.stderr)
            return 1
    try:
        created = create_admin(email=email, password=password, full_name=args.full_name)
    except (ValidationFailed, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not created:
        print(f"error: an account with {email} already exists", file=sys.stderr)
        return 1
    print(f"admin {email} created")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
