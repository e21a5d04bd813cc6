"""`spillway dev`: the whole system on one machine, with a local scaler that plays KEDA."""
