"""The JVM: jstack/jcmd text, jcmd JSON, Spring Boot actuator."""
