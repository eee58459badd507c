console.log("result")
