"""The policy tier: reactions that listen to events and read the verdict
(automatic blocking), the schema of its rules (``rules``) and the validation
of a policy file (``filecheck``). Never called by the tiers below it."""
