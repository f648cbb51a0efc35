"""nic: training, export and reference code for the nic learned image codec."""
