print("vote")
