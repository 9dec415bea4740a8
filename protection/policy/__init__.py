"""The policy tier: reactions that listen to events and read the verdict
(automatic blocking). Never called by the tiers below it."""
