"""Every change to an account goes through here, in a transaction, with an audit event.

Callers import from `accounts.services` itself; the modules below only keep each concern short.
"""

from accounts.services.accounts import (
    ACCOUNT_FIELDS,
    CONSENT_TEXT,
    PERSONAL_FIELDS,
    ExistingAccountFound,
    PossibleMatchFound,
    account_add,
    account_create,
    account_delete,
    account_rename,
    account_update,
    check_approval_change,
    check_email_change,
    email_domain_warning,
)
from accounts.services.actor import Actor
from accounts.services.authority import (
    accounts_out_of_reach,
    action_refusals,
    check_may_act_on_account,
    may_act_on_account,
    out_of_reach_message,
    refusal_for,
    sync_out_of_reach,
)
from accounts.services.emails import set_password_email, site_url
from accounts.services.memberships import MEMBERSHIP_FIELDS, membership_add, membership_update
from accounts.services.new_account import account_created_changes, check_new_account, new_account_problems
from accounts.services.organisation_roles import organisation_role_grant, organisation_role_revoke
from accounts.services.passwords import (
    PASSWORD_INVITATION,
    PASSWORD_METHODS,
    PASSWORD_NONE,
    PASSWORD_SET,
    PASSWORD_STARTER_CODE,
    RESET_LINK,
    RESET_SET,
    RESET_STARTER_CODE,
    account_credentials_reset,
    account_password_changed_by_owner,
    account_set_password,
    set_password_email_send,
)
from accounts.services.reports import census_report_build, census_report_start
from accounts.services.roles import membership_roles_set, role_assign, role_remove
from accounts.services.signin import (
    PASSWORD_SIGN_IN_REFUSED,
    SignInMethodsRefused,
    linked_sign_in_removed,
    password_signin_refusal,
    school_sign_in_methods_set,
    sign_in_refusal,
    social_sign_in_match,
)
from accounts.services.tokens import MIS_AGENT, api_token_create, api_token_scopes, api_token_withdraw
from accounts.services.usernames import USERNAME_HOLD_DAYS, check_username_free, username_taken, usernames_hold

__all__ = [
    "account_created_changes",
    "check_new_account",
    "new_account_problems",
    "set_password_email",
    "site_url",
    "MIS_AGENT",
    "api_token_create",
    "api_token_scopes",
    "api_token_withdraw",
    "ACCOUNT_FIELDS",
    "CONSENT_TEXT",
    "MEMBERSHIP_FIELDS",
    "PASSWORD_INVITATION",
    "PASSWORD_METHODS",
    "PASSWORD_NONE",
    "PASSWORD_SET",
    "PASSWORD_STARTER_CODE",
    "PERSONAL_FIELDS",
    "RESET_LINK",
    "RESET_SET",
    "RESET_STARTER_CODE",
    "USERNAME_HOLD_DAYS",
    "Actor",
    "ExistingAccountFound",
    "PossibleMatchFound",
    "account_add",
    "account_create",
    "account_credentials_reset",
    "account_delete",
    "account_rename",
    "account_password_changed_by_owner",
    "account_set_password",
    "account_update",
    "census_report_build",
    "census_report_start",
    "accounts_out_of_reach",
    "sync_out_of_reach",
    "action_refusals",
    "check_approval_change",
    "check_email_change",
    "check_may_act_on_account",
    "check_username_free",
    "email_domain_warning",
    "linked_sign_in_removed",
    "PASSWORD_SIGN_IN_REFUSED",
    "password_signin_refusal",
    "school_sign_in_methods_set",
    "SignInMethodsRefused",
    "may_act_on_account",
    "membership_add",
    "membership_roles_set",
    "membership_update",
    "out_of_reach_message",
    "refusal_for",
    "role_assign",
    "role_remove",
    "set_password_email_send",
    "organisation_role_grant",
    "organisation_role_revoke",
    "sign_in_refusal",
    "social_sign_in_match",
    "username_taken",
    "usernames_hold",
]
